package genesys

import (
	"encoding/json"
	"net/http"
	"testing"
)

// observationAnswer is a queue observation answer as the SDK models
// describe it: on-queue agents per routing status, waiting per media type.
const observationAnswer = `{"results": [{"group": {"queueId": "3b9e2f10-6c1d-4a7e-9f02-5d8c7b6a4e31"}, "data": [
	{"metric": "oOnQueueUsers", "qualifier": "IDLE", "stats": {"count": 2}},
	{"metric": "oOnQueueUsers", "qualifier": "INTERACTING", "stats": {"count": 3}},
	{"metric": "oOnQueueUsers", "qualifier": "NOT_RESPONDING", "stats": {"count": 1}},
	{"metric": "oWaiting", "qualifier": "message", "stats": {"count": 4}},
	{"metric": "oWaiting", "qualifier": "voice", "stats": {"count": 9}},
	{"metric": "oInteracting", "qualifier": "message", "stats": {"count": 3}}
]}]}`

func TestObserveQueueCountsAgentsOnQueueIdleAgentsAndWaitingMessages(t *testing.T) {
	const queue = "3b9e2f10-6c1d-4a7e-9f02-5d8c7b6a4e31"
	fake := newFakeGenesys(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(observationAnswer))
	})
	got, err := fake.client(t, nil).ObserveQueue(t.Context(), queue)
	if err != nil {
		t.Fatal(err)
	}
	if want := (QueueObservation{AgentsOnQueue: 6, AgentsIdle: 2, Waiting: 4, Interacting: 3}); got != want {
		t.Fatalf("observation %+v, want %+v", got, want)
	}
	if err := loadTestSpec(t).ValidateResponseBody("QueueObservationQueryResponse", []byte(observationAnswer)); err != nil {
		t.Fatalf("the example answer does not match the SDK model: %v", err)
	}
	reqs := fake.recorded()
	if len(reqs) != 1 || reqs[0].Method != http.MethodPost || reqs[0].Path != "/api/v2/analytics/queues/observations/query" {
		t.Fatalf("requests %+v", reqs)
	}
	var body QueueObservationQuery
	if err := json.Unmarshal(reqs[0].Body, &body); err != nil || body.Filter.Predicates[0].Value != queue {
		t.Fatalf("body %s", reqs[0].Body)
	}
}

func TestEstimatedWaitTimeReadsTheFirstEstimateOrNone(t *testing.T) {
	const queue = "3b9e2f10-6c1d-4a7e-9f02-5d8c7b6a4e31"
	answer := `{"results": [{"intent": "message", "formula": "BEST", "estimatedWaitTimeSeconds": 95}]}`
	fake := newFakeGenesys(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(answer))
	})
	seconds, ok, err := fake.client(t, nil).EstimatedWaitTime(t.Context(), queue)
	if err != nil || !ok || seconds != 95 {
		t.Fatalf("estimate %d, %v, %v; want 95 s", seconds, ok, err)
	}
	if reqs := fake.recorded(); reqs[0].Method != http.MethodGet || reqs[0].Path != "/api/v2/routing/queues/"+queue+"/mediatypes/message/estimatedwaittime" {
		t.Fatalf("request %s %s", reqs[0].Method, reqs[0].Path)
	}
	if err := loadTestSpec(t).ValidateResponseBody("EstimatedWaitTimePredictions", []byte(answer)); err != nil {
		t.Fatal(err)
	}
	answer = `{"results": []}`
	if _, ok, err := fake.client(t, nil).EstimatedWaitTime(t.Context(), queue); err != nil || ok {
		t.Fatalf("no estimate: ok %v, err %v", ok, err)
	}
}
