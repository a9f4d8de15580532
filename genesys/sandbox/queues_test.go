package sandbox

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/handover-relay/handover/genesys"
)

func TestQueueObservationAndEstimatedWaitFollowTheDeskAndTheConversations(t *testing.T) {
	h := startSandbox(t, func(c *Config) { c.HandleTime = time.Minute })
	in := h.sb.AddIntegration("Queue test", "http://127.0.0.1:1/unused", "queue-test-secret-0123")
	client := h.client(t, testClientSecret)
	ctx := context.Background()
	observe := func() genesys.QueueObservation {
		t.Helper()
		o, err := client.ObserveQueue(ctx, testQueueID)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	estimate := func() (int, bool) {
		t.Helper()
		seconds, ok, err := client.EstimatedWaitTime(ctx, testQueueID)
		if err != nil {
			t.Fatal(err)
		}
		return seconds, ok
	}

	if o := observe(); o != (genesys.QueueObservation{AgentsOnQueue: DefaultAgentsOnQueue, AgentsIdle: DefaultAgentsOnQueue}) {
		t.Fatalf("a fresh queue: %+v", o)
	}
	if seconds, ok := estimate(); !ok || seconds != 0 {
		t.Fatalf("idle agents and nobody waiting: estimate %d (%v), want 0", seconds, ok)
	}

	first := startConversation(t, h, in.ID, "customer-1")
	startConversation(t, h, in.ID, "customer-2")
	startConversation(t, h, in.ID, "customer-3")
	if err := h.sb.Accept(first, "Ada"); err != nil {
		t.Fatal(err)
	}
	if o := observe(); o != (genesys.QueueObservation{AgentsOnQueue: 2, AgentsIdle: 1, Waiting: 2, Interacting: 1}) {
		t.Fatalf("one connected, two waiting: %+v", o)
	}
	// Two ahead, one idle agent of two: the new one is the second in line.
	if seconds, ok := estimate(); !ok || seconds != 60 {
		t.Fatalf("estimate %d (%v), want 60 s", seconds, ok)
	}

	if err := h.sb.SetAgentsOnQueue(testQueueID, 0); err != nil {
		t.Fatal(err)
	}
	if o := observe(); o.AgentsOnQueue != 0 || o.AgentsIdle != 0 || o.Waiting != 2 {
		t.Fatalf("nobody On Queue: %+v", o)
	}
	if _, ok := estimate(); ok {
		t.Fatal("an estimate with nobody On Queue")
	}
	if err := h.sb.SetAgentsOnQueue("no-such-queue", 1); err != ErrUnknownQueue {
		t.Fatalf("unknown queue: %v", err)
	}
}

func TestQueueCallsRefuseWhatGenesysRefuses(t *testing.T) {
	h := startSandbox(t, nil)
	token := h.token(t)
	if resp, _ := h.call(t, token, http.MethodPost, "/api/v2/analytics/queues/observations/query", map[string]any{"metrics": []string{"oWaiting"}}); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a query without a filter: %d, want 400", resp.StatusCode)
	}
	if resp, _ := h.call(t, token, http.MethodGet, "/api/v2/routing/queues/no-such-queue/mediatypes/message/estimatedwaittime", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("an unknown queue's estimate: %d, want 404", resp.StatusCode)
	}
	resp, body := h.call(t, token, http.MethodPost, "/api/v2/analytics/queues/observations/query", genesys.QueueObservationQuery{
		Filter:  genesys.QueueObservationQueryFilter{Type: "and", Predicates: []genesys.QueueObservationQueryPredicate{{Dimension: "queueId", Value: testQueueID}}},
		Metrics: []string{genesys.MetricOnQueueUsers, genesys.MetricWaiting},
	})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("query: %d %s", resp.StatusCode, body)
	}
	if err := h.sb.spec.ValidateResponseBody("QueueObservationQueryResponse", body); err != nil {
		t.Fatalf("the answer does not match the SDK model: %v", err)
	}
}
