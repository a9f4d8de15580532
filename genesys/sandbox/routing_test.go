package sandbox

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/handover-relay/handover/genesys"
)

// agentsOf returns the agent legs of conversation cid.
func agentsOf(t *testing.T, h *harness, cid string) []Participant {
	t.Helper()
	conv, ok := h.sb.Conversation(cid)
	if !ok {
		t.Fatalf("no conversation %s", cid)
	}
	var out []Participant
	for _, p := range conv.Participants {
		if p.Purpose == "agent" {
			out = append(out, p)
		}
	}
	return out
}

func TestAnOfferThatIsDeclinedOrMissedLeavesTheConversationWaiting(t *testing.T) {
	tests := []struct {
		name           string
		end            func(*Sandbox, string) error
		disconnectType string
		detailType     string
	}{
		{"declined", (*Sandbox).DeclineOffer, "endpoint", "ENDPOINT"},
		{"timed out", (*Sandbox).OfferTimeout, "transfer.noanswer", "NO_ANSWER_TRANSFER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, events, integrationID := startWithTriggerDestination(t, nil)
			cid := startConversation(t, h, integrationID, "customer-1")
			ws := openSocket(t, h, queueTopicName)

			if err := h.sb.Offer(cid, "Max Agent"); err != nil {
				t.Fatalf("Offer: %v", err)
			}
			alerting := ws.next(t, "the agent alerting", agentState("alerting"))
			var ev queueEvent
			_ = json.Unmarshal(alerting.event.EventBody, &ev)
			for _, p := range ev.Participants {
				if p.Purpose == "agent" && (p.ConnectedTime != "" || p.User == nil || p.User.Name != "Max Agent") {
					t.Errorf("alerting agent = %+v", p)
				}
			}
			if conv, _ := h.sb.Conversation(cid); conv.State != StateWaiting {
				t.Errorf("state while alerting = %s", conv.State)
			}
			start := triggerEvents(t, h, events, 1)[0]
			offered := agentsOf(t, h, cid)[0]
			if start.body["participantId"] != offered.ID || start.body["userId"] != offered.UserID || start.body["queueId"] != testQueueID {
				t.Errorf("user.start = %v", start.body)
			}

			if err := tt.end(h.sb, cid); err != nil {
				t.Fatalf("end the offer: %v", err)
			}
			ended := ws.next(t, "the offer ended", agentState("disconnected"))
			if err := h.sb.spec.ValidateResponseBody("QueueConversationMessageEventTopicMessageConversation", ended.event.EventBody); err != nil {
				t.Errorf("queue topic: %v", err)
			}
			_, get := h.call(t, h.token(t), http.MethodGet, "/api/v2/conversations/messages/"+cid, nil)
			if err := h.sb.spec.ValidateResponseBody("MessageConversation", get); err != nil {
				t.Errorf("GET: %v", err)
			}
			agent := agentsOf(t, h, cid)[0]
			if agent.State != "disconnected" || agent.DisconnectType != tt.disconnectType || !agent.ConnectedTime.IsZero() || !agent.StartAcwTime.IsZero() {
				t.Errorf("agent = %+v", agent)
			}
			if conv, _ := h.sb.Conversation(cid); conv.State != StateWaiting {
				t.Errorf("state after the offer = %s", conv.State)
			}
			end := triggerEvents(t, h, events, 2)[1]
			if eventKinds([]triggerEvent{end}) != "user.end" || end.body["disconnectType"] != tt.detailType ||
				!strings.Contains(string(end.EventBody), `"interactingDurationMs":0`) {
				t.Errorf("user.end = %s", end.EventBody)
			}
			if err := tt.end(h.sb, cid); !errorsIs(err, ErrNoOffer) {
				t.Errorf("ending it again: %v", err)
			}

			// The queue offers it to someone else, who answers.
			if err := h.sb.Offer(cid, "Ann Agent"); err != nil {
				t.Fatalf("second Offer: %v", err)
			}
			if err := h.sb.Accept(cid, "Ann Agent"); err != nil {
				t.Fatalf("Accept: %v", err)
			}
			agents := agentsOf(t, h, cid)
			if len(agents) != 2 || agents[1].State != "connected" || agents[1].UserName != "Ann Agent" {
				t.Errorf("agents = %+v", agents)
			}
		})
	}
}

func TestAcceptConnectsTheOfferedAgentAndNoOther(t *testing.T) {
	h, events, integrationID := startWithTriggerDestination(t, nil)
	cid := startConversation(t, h, integrationID, "customer-1")
	if err := h.sb.Offer(cid, "Max Agent"); err != nil {
		t.Fatalf("Offer: %v", err)
	}
	if err := h.sb.Offer(cid, "Ann Agent"); !errorsIs(err, ErrOfferPending) {
		t.Errorf("a second offer: %v", err)
	}
	if err := h.sb.Accept(cid, "Ann Agent"); !errorsIs(err, ErrOfferPending) {
		t.Errorf("another agent accepts: %v", err)
	}
	offered := agentsOf(t, h, cid)[0]
	if err := h.sb.Accept(cid, "Max Agent"); err != nil {
		t.Fatalf("Accept: %v", err)
	}
	agents := agentsOf(t, h, cid)
	if len(agents) != 1 || agents[0].ID != offered.ID || agents[0].State != "connected" || agents[0].ConnectedTime.IsZero() {
		t.Errorf("agents = %+v, want the offered leg connected", agents)
	}
	if err := h.sb.Offer(cid, "Ann Agent"); !errorsIs(err, ErrAlreadyAccepted) {
		t.Errorf("offer while connected: %v", err)
	}
	// Accepting an offer does not start a second user session.
	_ = h.sb.AgentEnd(cid)
	if kinds := eventKinds(triggerEvents(t, h, events, 3)); kinds != "user.start user.end customer.end" {
		t.Errorf("events = %s", kinds)
	}
}

func TestTransferToAgentKeepsTheConversationAndAlertsTheNewAgent(t *testing.T) {
	rcv := startReceiver(t)
	events := startReceiver(t)
	h := startSandbox(t, nil)
	h.sb.AddEventDestination(EventDestination{URL: events.url})
	in := h.sb.AddIntegration("bot", rcv.url, testWebhookKey)
	cid := startConversation(t, h, in.ID, "customer-1")
	if err := h.sb.Accept(cid, "Max Agent"); err != nil {
		t.Fatalf("Accept: %v", err)
	}
	if err := h.sb.TransferToAgent(cid, "Max Agent"); err == nil {
		t.Errorf("a transfer to the connected agent was accepted")
	}
	if err := h.sb.TransferToAgent(cid, "Ann Agent"); err != nil {
		t.Fatalf("TransferToAgent: %v", err)
	}
	conv, _ := h.sb.Conversation(cid)
	agents := agentsOf(t, h, cid)
	if conv.State != StateWaiting || conv.Participants[0].State != "connected" {
		t.Errorf("after the transfer: state %s, customer %s", conv.State, conv.Participants[0].State)
	}
	if from := agents[0]; from.State != "disconnected" || from.DisconnectType != "transfer" || from.StartAcwTime.IsZero() {
		t.Errorf("transferring agent = %+v", from)
	}
	if to := agents[1]; to.State != "alerting" || to.UserName != "Ann Agent" || !to.ConnectedTime.IsZero() {
		t.Errorf("new agent = %+v", to)
	}
	got := triggerEvents(t, h, events, 3)
	if kinds := eventKinds(got); kinds != "user.start user.end user.start" {
		t.Fatalf("events = %s", kinds)
	}
	if end := got[1].body; end["disconnectType"] != "TRANSFER" || end["interactingDurationMs"].(float64) <= 0 {
		t.Errorf("user.end = %v", end)
	}
	if got[2].body["userId"] != agents[1].UserID {
		t.Errorf("user.start = %v, want Ann", got[2].body)
	}

	if err := h.sb.Accept(cid, "Ann Agent"); err != nil {
		t.Fatalf("Accept by the new agent: %v", err)
	}
	if _, err := h.sb.AgentSend(cid, "Ann here", ""); err != nil {
		t.Fatalf("AgentSend: %v", err)
	}
	w := rcv.wait(t, 1)[0]
	if !strings.Contains(string(w.body), `"nickname":"Ann Agent"`) {
		t.Errorf("webhook = %s", w.body)
	}
}

func TestTransferToQueueMovesTheConversationToTheOtherQueuesTopic(t *testing.T) {
	const billing = "7c1d0e2f-4a3b-4c5d-9e8f-000000000002"
	billingTopic := genesys.QueueConversationsTopic(billing)
	h, events, integrationID := startWithTriggerDestination(t, nil)
	h.sb.AddQueue(billing, "Billing")
	cid := startConversation(t, h, integrationID, "customer-1")
	ws := openSocket(t, h, queueTopicName, billingTopic)
	if err := h.sb.Accept(cid, "Max Agent"); err != nil {
		t.Fatalf("Accept: %v", err)
	}
	if err := h.sb.TransferToQueue(cid, "nope"); !errorsIs(err, ErrUnknownQueue) {
		t.Errorf("unknown queue: %v", err)
	}
	if err := h.sb.TransferToQueue(cid, billing); err != nil {
		t.Fatalf("TransferToQueue: %v", err)
	}

	got := ws.nextEach(t, "the transfer on both queue topics",
		participantState(queueTopicName, "agent", "disconnected"), topicIs(billingTopic))
	for i, m := range got {
		var ev queueEvent
		_ = json.Unmarshal(m.event.EventBody, &ev)
		var waiting int
		for _, p := range ev.Participants {
			if p.Purpose == "agent" && (p.State != "disconnected" || p.DisconnectType != "transfer") {
				t.Errorf("snapshot %d: agent %+v", i, p)
			}
			if p.Purpose == "acd" && p.State == "connected" {
				waiting++
				if p.Queue == nil || p.Queue.ID != billing {
					t.Errorf("snapshot %d: acd leg %+v, want it on Billing", i, p)
				}
			}
		}
		if waiting != 1 {
			t.Errorf("snapshot %d: %d ACD legs holding the conversation, want 1", i, waiting)
		}
	}
	conv, _ := h.sb.Conversation(cid)
	if conv.QueueID != billing || conv.State != StateWaiting {
		t.Errorf("conversation on %s, %s", conv.QueueID, conv.State)
	}
	if end := triggerEvents(t, h, events, 2)[1]; end.body["disconnectType"] != "TRANSFER" || end.body["queueId"] != testQueueID {
		t.Errorf("user.end = %v", end.body)
	}

	if err := h.sb.Accept(cid, "Bill Agent"); err != nil {
		t.Fatalf("Accept on Billing: %v", err)
	}
	m := ws.next(t, "the Billing agent connected", participantState(billingTopic, "agent", "connected"))
	var ev queueEvent
	_ = json.Unmarshal(m.event.EventBody, &ev)
	for _, p := range ev.Participants {
		if p.Purpose == "agent" && p.State == "connected" && (p.Queue == nil || p.Queue.ID != billing) {
			t.Errorf("agent on %+v, want Billing", p.Queue)
		}
	}
	if start := triggerEvents(t, h, events, 3)[2]; start.body["queueId"] != billing {
		t.Errorf("user.start = %v", start.body)
	}
}

func TestFinishWrapupSendsTheAcwEventWithoutADisconnectType(t *testing.T) {
	h, events, integrationID := startWithTriggerDestination(t, nil)
	cid := startConversation(t, h, integrationID, "customer-1")
	if err := h.sb.FinishWrapup(cid, "resolved"); !errorsIs(err, ErrNoWrapup) {
		t.Errorf("wrap-up before any agent: %v", err)
	}
	_ = h.sb.Accept(cid, "Max Agent")
	if err := h.sb.AgentEnd(cid); err != nil {
		t.Fatalf("AgentEnd: %v", err)
	}
	const code = "c0ffee00-1234-4abc-9def-000000000042"
	if err := h.sb.FinishWrapup(cid, code); err != nil {
		t.Fatalf("FinishWrapup: %v", err)
	}
	got := triggerEvents(t, h, events, 4)
	if kinds := eventKinds(got); kinds != "user.start user.end customer.end acw" {
		t.Fatalf("events = %s", kinds)
	}
	acw := got[3]
	agent := agentsOf(t, h, cid)[0]
	if acw.body["wrapupCode"] != code || acw.body["userId"] != agent.UserID || acw.body["queueId"] != testQueueID ||
		acw.body["participantId"] != agent.ID || acw.body["disconnectType"] != nil {
		t.Errorf("acw = %s", acw.EventBody)
	}
	if _, ok := acw.body["wrapupDurationMs"].(float64); !ok {
		t.Errorf("acw has no wrapupDurationMs: %s", acw.EventBody)
	}

	resp, body := h.call(t, h.token(t), http.MethodGet, "/api/v2/conversations/messages/"+cid, nil)
	if err := h.sb.spec.ValidateResponseBody("MessageConversation", body); resp.StatusCode != http.StatusOK || err != nil {
		t.Errorf("GET: %d %v", resp.StatusCode, err)
	}
	var conv struct {
		Participants []struct {
			Purpose    string
			EndAcwTime string `json:"endAcwTime"`
			Wrapup     *struct{ Code string }
		}
	}
	_ = json.Unmarshal(body, &conv)
	for _, p := range conv.Participants {
		if p.Purpose == "agent" && (p.EndAcwTime == "" || p.Wrapup == nil || p.Wrapup.Code != code) {
			t.Errorf("agent after wrap-up = %+v", p)
		}
	}
	if err := h.sb.FinishWrapup(cid, code); !errorsIs(err, ErrNoWrapup) {
		t.Errorf("second wrap-up: %v", err)
	}
}

func TestSnapshotsCarryTheAgentsName(t *testing.T) {
	h := startSandbox(t, nil)
	in := h.sb.AddIntegration("bot", "http://127.0.0.1:1/webhook", testWebhookKey)
	cid := startConversation(t, h, in.ID, "customer-1")
	ws := openSocket(t, h, queueTopicName)
	_ = h.sb.Accept(cid, "Max Agent")
	joined := ws.next(t, "the agent connected", agentState("connected"))
	_, get := h.call(t, h.token(t), http.MethodGet, "/api/v2/conversations/messages/"+cid, nil)
	for name, body := range map[string][]byte{"queue topic": joined.event.EventBody, "GET": get} {
		var conv struct {
			Participants []struct {
				Purpose string
				Name    string
				User    *struct{ ID, Name string }
			}
		}
		_ = json.Unmarshal(body, &conv)
		for _, p := range conv.Participants {
			if p.Purpose == "agent" && (p.Name != "Max Agent" || p.User == nil || p.User.Name != "Max Agent" || p.User.ID == "") {
				t.Errorf("%s: agent = %+v", name, p)
			}
		}
	}
}
