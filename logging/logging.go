// Package logging sets up log/slog for Handover: text for people, JSON for
// log collectors, and the request id of the current request on every line.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	conversationIDKey
)

// WithRequestID returns ctx carrying the request id, which every log line
// written with that ctx then shows as request_id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// WithConversationID returns ctx carrying the Handover conversation id, which
// every log line written with that ctx then shows as conversation_id.
func WithConversationID(ctx context.Context, id int64) context.Context {
	return context.WithValue(ctx, conversationIDKey, id)
}

// ConversationID is the conversation id ctx carries, if any.
func ConversationID(ctx context.Context) (int64, bool) {
	id, ok := ctx.Value(conversationIDKey).(int64)
	return id, ok && id != 0
}

// New returns a logger writing format ("text" or "json") at level to w.
func New(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("HANDOVER_LOG_LEVEL: %q is not debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(contextHandler{h}), nil
}

// contextHandler adds the values carried by the context to each record.
type contextHandler struct{ slog.Handler }

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id, ok := ctx.Value(requestIDKey).(string); ok && id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	if id, ok := ConversationID(ctx); ok && !hasAttr(r, "conversation_id") {
		r.AddAttrs(slog.Int64("conversation_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// hasAttr tells whether the record names key already (a line that says
// which conversation it is about keeps its own).
func hasAttr(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(attrs)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}
