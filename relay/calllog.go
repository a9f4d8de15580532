package relay

import (
	"context"
	"log/slog"
	"sync"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/live"
	"github.com/handover-relay/handover/store"
)

// callInfo is what the relay knows about a Genesys call that the client
// does not: the conversation and outbox item it is for, and which attempt.
type callInfo struct {
	conversationID, outboxID *int64
	attempt                  int
	// held, when set, keeps the calls for the outbox worker to write with
	// the attempt's outcome: one commit per attempt instead of one more per
	// call (docs/performance.md).
	held *heldCalls
}

// heldCalls are the call-log rows of one outbox attempt not written yet.
type heldCalls struct {
	mu    sync.Mutex
	calls []store.APICall
}

func (h *heldCalls) add(call store.APICall) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, call)
}

// take returns the rows held so far and holds none after.
func (h *heldCalls) take() []store.APICall {
	h.mu.Lock()
	defer h.mu.Unlock()
	calls := h.calls
	h.calls = nil
	return calls
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
		if info.held != nil {
			call.CreatedAt = r.store.Now()
			info.held.add(call)
			return
		}
		if err := r.store.InsertAPICall(context.WithoutCancel(ctx), &call); err != nil {
			r.log.ErrorContext(ctx, "record Genesys call", slog.Any("error", err))
		}
		r.publishCalls(info.conversationID)
	}
}

// writeHeldCalls writes the call-log rows an attempt still holds (an
// outcome other than sent, which writes them itself).
func (r *Relay) writeHeldCalls(ctx context.Context, held *heldCalls, conversationID *int64) {
	calls := held.take()
	if len(calls) == 0 {
		return
	}
	if err := r.store.InsertAPICalls(context.WithoutCancel(ctx), calls); err != nil {
		r.log.ErrorContext(ctx, "record Genesys calls", slog.Any("error", err))
	}
	r.publishCalls(conversationID)
}

// publishCalls tells the console's call log, and the conversation's
// timeline, that calls were written.
func (r *Relay) publishCalls(conversationID *int64) {
	r.broker.Publish(live.APICalls, live.Signal{Kind: live.Changed})
	if conversationID != nil {
		r.broker.Publish(live.Conversation(*conversationID), live.Signal{Kind: live.Changed})
	}
}
