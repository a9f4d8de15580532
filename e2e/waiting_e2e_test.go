package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/handover-relay/handover/genesys/sandbox"
	"github.com/handover-relay/handover/internal/testkit"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store"
)

// waitingDeployment is a deployment whose store clock can be moved on (the
// waiting loop's timers and the availability cache read it), with the
// waiting loop looking every few milliseconds and the endpoint's waiting
// settings set by configure.
func waitingDeployment(t *testing.T, configure func(*store.WaitingSettings)) (*deployment, *instance, *atomic.Int64) {
	t.Helper()
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	ahead := &atomic.Int64{}
	d.now = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())).UTC() }
	d.tune = func(rc *relay.Config, _ *sandbox.Config) { rc.WaitingInterval = 10 * time.Millisecond }
	inst := d.start()
	e, err := inst.srv.Store.EndpointByID(context.Background(), d.endpoint.ID)
	if err != nil {
		t.Fatal(err)
	}
	w := store.DefaultWaiting()
	w.QueueUpdateSeconds = 0
	configure(&w)
	e.Waiting = w
	if err := inst.srv.Store.UpdateEndpoint(context.Background(), &e); err != nil {
		t.Fatal(err)
	}
	d.endpoint = e
	return d, inst, ahead
}

// availability asks the bot API whether anyone is there.
func (i *instance) availability(token string) map[string]any {
	i.t.Helper()
	resp, err := http.Get(i.base + "/" + token + "/availability")
	if err != nil {
		i.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &out) != nil {
		i.t.Fatalf("availability: %d %s", resp.StatusCode, body)
	}
	return out
}

func TestAvailabilityWithAgentsAndWithNoneAndRefuseSendsNothingToGenesys(t *testing.T) {
	d, inst, ahead := waitingDeployment(t, func(w *store.WaitingSettings) { w.IfNoAgents = store.IfNoAgentsRefuse })
	token := d.endpoint.URLToken

	a := inst.availability(token)
	if a["available"] != true || a["agentsOnQueue"] != float64(sandbox.DefaultAgentsOnQueue) || a["agentsIdle"] != float64(sandbox.DefaultAgentsOnQueue) ||
		a["waiting"] != float64(0) || a["estimatedWaitSeconds"] != float64(0) {
		t.Fatalf("with two idle agents: %v", a)
	}
	if err := d.genesys.SetAgentsOnQueue(e2eQueueID, 0); err != nil {
		t.Fatal(err)
	}
	// Within the cache's few seconds the answer is the kept one…
	if a := inst.availability(token); a["available"] != true {
		t.Fatalf("the cached answer changed at once: %v", a)
	}
	ahead.Add(int64(time.Minute)) // …after them Genesys is asked again.
	a = inst.availability(token)
	if a["available"] != false || a["agentsOnQueue"] != float64(0) || a["estimatedWaitSeconds"] != nil || a["known"] != true {
		t.Fatalf("with nobody On Queue: %v", a)
	}

	status, body := inst.post("/"+token+"/handover", map[string]any{"userId": "u1", "sessionId": "s1"})
	errBody, _ := body["error"].(map[string]any)
	availability, _ := body["availability"].(map[string]any)
	if status != http.StatusConflict || errBody["code"] != "no_agents" || availability["available"] != false {
		t.Fatalf("refused handover: %d %v", status, body)
	}
	// A request's own policy wins over the endpoint's: queue hands over anyway.
	status, body = inst.post("/"+token+"/handover", map[string]any{"userId": "u2", "sessionId": "s2", "ifNoAgents": "queue"})
	if status != http.StatusAccepted {
		t.Fatalf("handover with ifNoAgents queue: %d %v", status, body)
	}
	conv := d.sandboxConversation(inst, "s2")
	for _, rec := range d.genesys.Inbound() {
		if rec.ConversationID != "" && rec.ConversationID != conv.ID {
			t.Fatalf("the refused handover reached Genesys: %+v", rec)
		}
	}
	if _, err := inst.srv.Store.LatestConversation(context.Background(), d.endpoint.ID, "s1"); err == nil {
		t.Fatal("the refused handover was stored")
	}
	status, body = inst.post("/"+token+"/handover", map[string]any{"userId": "u3", "sessionId": "s3", "ifNoAgents": "maybe"})
	if status != http.StatusBadRequest {
		t.Fatalf("ifNoAgents maybe: %d %v", status, body)
	}
}

func TestQueueEventsAndTextsWhileWaitingStopAtTheJoin(t *testing.T) {
	d, inst, ahead := waitingDeployment(t, func(w *store.WaitingSettings) {
		w.QueueUpdateSeconds = 30
		w.Messages = map[string]string{
			store.MessageAccepted:     "Queued; the wait is {wait}.",
			store.MessageStillWaiting: "Still waiting, {waiting} in the queue.",
			store.MessageAgentJoined:  "{agent} is here.",
			store.MessageAgentEnded:   "{agent} has left; the bot is back.",
		}
	})
	token := d.endpoint.URLToken
	events := inst.events(token, "s1", "")
	if status, body := inst.post("/"+token+"/handover", map[string]any{"userId": "u1", "sessionId": "s1"}); status != http.StatusAccepted {
		t.Fatalf("handover: %d %v", status, body)
	}
	// The first update comes at once, maybe before the conversation is in
	// Genesys's queue; the idle agents make the wait nothing either way.
	first := next(t, events, "queue")
	if first.Data["estimatedWaitSeconds"] != float64(0) || first.Data["waitedSeconds"] != float64(0) {
		t.Fatalf("first queue event: %v", first.Data)
	}
	if text := next(t, events, "message").Data["text"]; text != "Queued; the wait is less than a minute." {
		t.Fatalf("accepted text %q", text)
	}
	conv := d.sandboxConversation(inst, "s1")
	ahead.Add(int64(31 * time.Second))
	if update := next(t, events, "queue"); update.Data["waiting"] != float64(1) || update.Data["waitedSeconds"].(float64) < 31 {
		t.Fatalf("second queue event: %v", update.Data)
	}
	if text := next(t, events, "message").Data["text"]; text != "Still waiting, 1 in the queue." {
		t.Fatalf("still waiting text %q", text)
	}

	// A second waiting session: its update after the join shows the loop
	// has looked at the first one again.
	other := inst.events(token, "s2", "")
	inst.post("/"+token+"/handover", map[string]any{"userId": "u2", "sessionId": "s2"})
	next(t, other, "queue")
	if err := d.genesys.Accept(conv.ID, "Ada"); err != nil {
		t.Fatal(err)
	}
	joined := next(t, events, "state")
	if joined.Data["state"] != store.StateAgentJoined {
		t.Fatalf("after the accept: %v", joined.Data)
	}
	if text := next(t, events, "message").Data["text"]; text != "Ada is here." {
		t.Fatalf("agent joined text %q", text)
	}
	ahead.Add(int64(31 * time.Second))
	next(t, other, "queue") // the loop's pass after the join
	if _, err := d.genesys.AgentSend(conv.ID, "Hello, Ada here.", ""); err != nil {
		t.Fatal(err)
	}
	// The next event of s1 is Ada's message: no queue event after the join.
	ev := next(t, events, "queue", "message")
	if ev.Event != "message" || ev.Data["text"] != "Hello, Ada here." {
		t.Fatalf("after the join the session got %s %v", ev.Event, ev.Data)
	}
	if err := d.genesys.AgentEnd(conv.ID); err != nil {
		t.Fatal(err)
	}
	if text := next(t, events, "message").Data["text"]; text != "Ada has left; the bot is back." {
		t.Fatalf("agent ended text %q", text)
	}
}

func TestQueueTimeoutEndsTheWaitOnBothSides(t *testing.T) {
	d, inst, ahead := waitingDeployment(t, func(w *store.WaitingSettings) {
		w.QueueTimeoutSeconds = 120
		w.Messages = map[string]string{store.MessageQueueTimeout: "Nobody came; the bot is back."}
	})
	token := d.endpoint.URLToken
	events := inst.events(token, "s1", "")
	inst.post("/"+token+"/handover", map[string]any{"userId": "u1", "sessionId": "s1"})
	conv := d.sandboxConversation(inst, "s1")
	ahead.Add(int64(121 * time.Second))
	ended := next(t, events, "state")
	for ended.Data["state"] == store.StateQueued {
		ended = next(t, events, "state")
	}
	if ended.Data["state"] != store.StateEnded || ended.Data["reason"] != store.ReasonQueueTimeout {
		t.Fatalf("after the queue timeout: %v", ended.Data)
	}
	if text := next(t, events, "message").Data["text"]; text != "Nobody came; the bot is back." {
		t.Fatalf("queue timeout text %q", text)
	}
	testkit.WaitFor(t, 5*time.Second, "the customer leg disconnected in Genesys", func() bool {
		c, _ := d.genesys.Conversation(conv.ID)
		return c.State == sandbox.StateEnded
	})
}

func TestInactivityEndsTheConversationAndTellsTheAgent(t *testing.T) {
	d, inst, ahead := waitingDeployment(t, func(w *store.WaitingSettings) { w.InactivitySeconds = 300 })
	token := d.endpoint.URLToken
	events := inst.events(token, "s1", "")
	inst.post("/"+token+"/handover", map[string]any{"userId": "u1", "sessionId": "s1"})
	conv := d.sandboxConversation(inst, "s1")
	if err := d.genesys.Accept(conv.ID, "Ada"); err != nil {
		t.Fatal(err)
	}
	next(t, events, "state")
	if _, err := d.genesys.AgentSend(conv.ID, "Anything else?", ""); err != nil {
		t.Fatal(err)
	}
	next(t, events, "message")
	ahead.Add(int64(301 * time.Second))
	ended := next(t, events, "state")
	if ended.Data["state"] != store.StateEnded || ended.Data["reason"] != store.ReasonInactivity {
		t.Fatalf("after five silent minutes: %v", ended.Data)
	}
	if text, _ := next(t, events, "message").Data["text"].(string); !strings.Contains(text, "inactivity") {
		t.Fatalf("the user's inactivity text %q", text)
	}
	testkit.WaitFor(t, 5*time.Second, "the agent told and the customer leg disconnected", func() bool {
		c, _ := d.genesys.Conversation(conv.ID)
		told := false
		for _, text := range customerTexts(c) {
			told = told || strings.Contains(text, "closed after 5 minutes without a message")
		}
		return told && c.State == sandbox.StateEnded
	})
}

func TestARefusedQueuePermissionMakesAvailabilityUnknownAndNeverFailsAHandover(t *testing.T) {
	d, inst, _ := waitingDeployment(t, func(w *store.WaitingSettings) { w.IfNoAgents = store.IfNoAgentsRefuse })
	d.genesys.SetFault(sandbox.Fault{Status: http.StatusForbidden, PathContains: "/analytics/queues/observations"})
	if err := d.genesys.SetAgentsOnQueue(e2eQueueID, 0); err != nil {
		t.Fatal(err)
	}
	a := inst.availability(d.endpoint.URLToken)
	problem, _ := a["problem"].(string)
	if a["known"] != false || a["available"] != nil || !strings.Contains(problem, "analytics:queueObservation:view") {
		t.Fatalf("with the observation refused: %v", a)
	}
	if status, body := inst.post("/"+d.endpoint.URLToken+"/handover", map[string]any{"userId": "u1", "sessionId": "s1"}); status != http.StatusAccepted {
		t.Fatalf("a handover with availability unknown: %d %v", status, body)
	}
}

func TestTheNoAgentsFailedAndCustomerLeftTextsReachTheirReaders(t *testing.T) {
	d, inst, ahead := waitingDeployment(t, func(w *store.WaitingSettings) {
		w.Messages = map[string]string{
			store.MessageNoAgents:     "Nobody is On Queue; hold on.",
			store.MessageFailed:       "We could not reach an agent.",
			store.MessageCustomerLeft: "The customer closed the chat window.",
		}
	})
	token := d.endpoint.URLToken
	if err := d.genesys.SetAgentsOnQueue(e2eQueueID, 0); err != nil {
		t.Fatal(err)
	}
	events := inst.events(token, "s1", "")
	inst.post("/"+token+"/handover", map[string]any{"userId": "u1", "sessionId": "s1"})
	if text := next(t, events, "message").Data["text"]; text != "Nobody is On Queue; hold on." {
		t.Fatalf("no agents text %q", text)
	}

	// The customer leaves and Genesys refuses the disconnect: the agent reads the text.
	conv := d.sandboxConversation(inst, "s1")
	d.genesys.SetFault(sandbox.Fault{Status: http.StatusForbidden, PathContains: "/participants/"})
	if status, body := inst.post("/"+token+"/sessions/s1/end", nil); status != http.StatusOK {
		t.Fatalf("end: %d %v", status, body)
	}
	testkit.WaitFor(t, 5*time.Second, "the agent reads the customer-left text", func() bool {
		c, _ := d.genesys.Conversation(conv.ID)
		for _, text := range customerTexts(c) {
			if text == "The customer closed the chat window." {
				return true
			}
		}
		return false
	})
	d.genesys.ClearFaults()

	// A handover Genesys refuses outright fails, and the user reads why
	// (agents back, so that no no-agents text comes in between).
	if err := d.genesys.SetAgentsOnQueue(e2eQueueID, 2); err != nil {
		t.Fatal(err)
	}
	ahead.Add(int64(time.Minute))
	d.genesys.SetFault(sandbox.Fault{Status: http.StatusBadRequest, PathContains: "/inbound/open/message"})
	failing := inst.events(token, "s2", "")
	inst.post("/"+token+"/handover", map[string]any{"userId": "u2", "sessionId": "s2"})
	for ev := next(t, failing, "state"); ev.Data["state"] != store.StateFailed; ev = next(t, failing, "state") {
	}
	if text := next(t, failing, "message").Data["text"]; text != "We could not reach an agent." {
		t.Fatalf("failed text %q", text)
	}
}
