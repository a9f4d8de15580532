package relay

import (
	"context"
	"log/slog"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/live"
	"github.com/handover-relay/handover/store"
)

// callInfo is what the relay knows about a Genesys call that the client
// does not: the conversation and outbox item it is for, and which attempt.
type callInfo struct {
	conversationID, outboxID *int64
	attempt                  int
}

type callInfoKey struct{}

// withCall marks the Genesys calls made with ctx as belonging to info.
func withCall(ctx context.Context, info callInfo) context.Context {
	return context.WithValue(ctx, callInfoKey{}, info)
}

// callRecorder is the OnCall hook of an endpoint's Genesys client: it writes
// every call the client makes to the call log (the console's Genesys call
// log and conversation timelines), with what withCall said of it.
func (r *Relay) callRecorder(endpointID int64) func(context.Context, genesys.Call) {
	return func(ctx context.Context, c genesys.Call) {
		info, _ := ctx.Value(callInfoKey{}).(callInfo)
		call := store.APICall{EndpointID: endpointID, ConversationID: info.conversationID, OutboxID: info.outboxID,
			Method: c.Method, Path: c.Path, Status: c.Status, Attempt: max(1, info.attempt), LatencyMS: c.Latency.Milliseconds()}
		if c.Err != nil {
			call.Error = c.Err.Error()
		}
		if err := r.store.InsertAPICall(context.WithoutCancel(ctx), &call); err != nil {
			r.log.ErrorContext(ctx, "record Genesys call", slog.Any("error", err))
		}
		r.broker.Publish(live.APICalls, live.Signal{Kind: live.Changed})
		if info.conversationID != nil {
			r.broker.Publish(live.Conversation(*info.conversationID), live.Signal{Kind: live.Changed})
		}
	}
}
