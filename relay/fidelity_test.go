package relay_test

// What real Genesys sends that an idealised one would not (docs/genesys.md,
// "What real Genesys does"): flow messages, receipt sequences, offers,
// transfers, EventBridge envelopes and skewed clocks. Each test drives the
// relay's receiver and processor on a real temporary SQLite database.

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/handlers"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store"
)

// genesysFixture is a relay (not run) with one endpoint whose open
// conversation has Genesys conversation id "gc-1", in the given state.
type genesysFixture struct {
	*replayFixture
}

func newGenesysFixture(t *testing.T, state string, cfg relay.Config) *genesysFixture {
	t.Helper()
	ctx := context.Background()
	f := newReplayFixture(t, store.Options{})
	if _, err := f.store.EndConversation(ctx, f.conv.ID, store.StateEnded, store.ReasonUserEnded, time.Now()); err != nil {
		t.Fatal(err)
	}
	conv := store.Conversation{EndpointID: f.e.ID, SessionID: "s2", UserID: "u1", CustomerID: "relay-customer-2", State: state, GenesysConversationID: "gc-1"}
	if err := f.store.CreateConversation(ctx, &conv); err != nil {
		t.Fatal(err)
	}
	f.conv = conv
	cfg.Store, cfg.WebhookStatus = f.store, handlers.WebhookStatus
	f.relay = relay.New(cfg)
	return &genesysFixture{f}
}

// apply receives a signed webhook now and processes it.
func (f *genesysFixture) apply(body string) store.Webhook {
	f.t.Helper()
	w := f.receive([]byte(body), replaySecret, time.Now())
	if err := f.relay.ProcessWebhook(context.Background(), w.ID); err != nil {
		f.t.Fatal(err)
	}
	w, err := f.store.WebhookByID(context.Background(), w.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return w
}

func (f *genesysFixture) updateEndpoint(change func(*store.Endpoint)) {
	f.t.Helper()
	e, err := f.store.EndpointByID(context.Background(), f.e.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	change(&e)
	if err := f.store.UpdateEndpoint(context.Background(), &e); err != nil {
		f.t.Fatal(err)
	}
	f.e = e
}

func (f *genesysFixture) current() store.Conversation {
	f.t.Helper()
	c, err := f.store.ConversationByID(context.Background(), f.conv.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// events is what the bot's stream of the session shows.
func (f *genesysFixture) events() []store.Message {
	f.t.Helper()
	events, err := f.store.SessionEventsAfter(context.Background(), f.e.ID, f.conv.SessionID, 0, 100)
	if err != nil {
		f.t.Fatal(err)
	}
	return events
}

func (f *genesysFixture) outbound(id, text, entity string) string {
	return `{"id":"` + id + `","channel":{"id":"` + replayIntegration + `","platform":"Open","type":"Private","to":{"id":"` + f.conv.CustomerID +
		`"},"from":{"nickname":"Support Deployment","id":"` + replayIntegration + `","idType":"Opaque"},"time":"` + genesys.FormatTime(time.Now()) +
		`"},"type":"Text","text":"` + text + `","originatingEntity":"` + entity + `","direction":"Outbound"}`
}

func TestAFlowMessageBeforeAnAgentReachesTheUserAsSystemButIsNotAJoin(t *testing.T) {
	f := newGenesysFixture(t, store.StateQueued, relay.Config{})
	w := f.apply(f.outbound("flow-1", "Connected. An agent will be with you shortly.", "Bot"))
	if w.Outcome != store.OutcomeDelivered {
		t.Fatalf("outcome %q, want delivered", w.Outcome)
	}
	c := f.current()
	if c.State != store.StateQueued || c.AgentJoinedAt != nil || c.FirstAgentMessageAt != nil || c.AgentName != "" {
		t.Fatalf("after a flow message: state %q, joined %v, first answer %v, agent %q; want still queued with no agent", c.State, c.AgentJoinedAt, c.FirstAgentMessageAt, c.AgentName)
	}
	var flow []store.Message
	for _, m := range f.events() {
		if m.Direction == store.FromAgent {
			t.Fatalf("the flow message reached the bot as an agent's: %+v", m)
		}
		if m.Direction == store.FromFlow {
			flow = append(flow, m)
		}
	}
	if len(flow) != 1 || flow[0].Text != "Connected. An agent will be with you shortly." || flow[0].Data.AgentName != "" {
		t.Fatalf("flow messages on the stream: %+v", flow)
	}

	// The agent's own message then joins, with the agent's name rather than
	// the integration's nickname.
	f.apply(strings.Replace(f.outbound("agent-1", "Hi, I am Max.", "Human"), `"nickname":"Support Deployment"`, `"nickname":"Max Agent"`, 1))
	if c := f.current(); c.State != store.StateAgentJoined || c.AgentName != "Max Agent" || c.FirstAgentMessageAt == nil {
		t.Fatalf("after the agent's message: state %q, agent %q, first answer %v", c.State, c.AgentName, c.FirstAgentMessageAt)
	}
}

func TestAnEndpointThatHidesFlowMessagesKeepsThemOnTheTimelineOnly(t *testing.T) {
	f := newGenesysFixture(t, store.StateQueued, relay.Config{})
	f.updateEndpoint(func(e *store.Endpoint) { e.FlowMessages = store.FlowMessagesHide })
	f.apply(f.outbound("flow-1", "Connected.", "Bot"))
	for _, m := range f.events() {
		if m.Text == "Connected." {
			t.Fatalf("a hidden flow message reached the bot: %+v", m)
		}
	}
	msgs, _ := f.store.ConversationMessages(context.Background(), f.conv.ID)
	if len(msgs) != 1 || msgs[0].Kind != store.KindFlowHidden || msgs[0].Text != "Connected." {
		t.Fatalf("timeline %+v, want the hidden flow message", msgs)
	}
}

func TestANicknameThatIsTheIntegrationsNameIsNotTakenForTheAgent(t *testing.T) {
	f := newGenesysFixture(t, store.StateQueued, relay.Config{})
	f.updateEndpoint(func(e *store.Endpoint) { e.DeploymentName = "Support Deployment" })
	f.apply(f.outbound("agent-1", "Hello", "Human"))
	if c := f.current(); c.State != store.StateAgentJoined || c.AgentName != "" {
		t.Fatalf("state %q, agent %q; want joined with no name rather than the integration's", c.State, c.AgentName)
	}
}

func (f *genesysFixture) userMessage(genesysID string) store.Message {
	f.t.Helper()
	m := store.Message{ConversationID: f.conv.ID, EndpointID: f.e.ID, SessionID: f.conv.SessionID, Direction: store.FromUser, Kind: store.KindText,
		Text: "my card was charged twice", GenesysMessageID: genesysID, Delivery: store.DeliverySent}
	if err := f.store.InsertMessage(context.Background(), &m); err != nil {
		f.t.Fatal(err)
	}
	return m
}

func (f *genesysFixture) receipt(id, status string, final bool, reasons string) string {
	body := `{"id":"` + id + `","channel":{"id":"` + replayIntegration + `","platform":"Open","type":"Private","to":{"id":"` + f.conv.CustomerID +
		`","idType":"Opaque"},"from":{"id":"` + replayIntegration + `","idType":"Opaque"},"time":"` + genesys.FormatTime(time.Now()) +
		`"},"type":"Receipt","status":"` + status + `","isFinalReceipt":` + map[bool]string{true: "true", false: "false"}[final]
	if reasons != "" {
		body += `,"reasons":` + reasons
	}
	return body + `,"direction":"Inbound"}`
}

func TestDeliveredThenFailedEndsFailedWithTheReasonAndTheBotHearsIt(t *testing.T) {
	f := newGenesysFixture(t, store.StateAgentJoined, relay.Config{})
	m := f.userMessage("g-1")
	for _, r := range []struct {
		status  string
		final   bool
		reasons string
	}{
		{genesys.ReceiptDelivered, false, ""},
		{genesys.ReceiptFailed, true, `[{"code":"MessageExpired","message":"Message could not be delivered in time"}]`},
	} {
		if w := f.apply(f.receipt("g-1", r.status, r.final, r.reasons)); w.Outcome != store.OutcomeLogged {
			t.Fatalf("%s receipt: outcome %q, want logged (a receipt after the first is not a duplicate)", r.status, w.Outcome)
		}
	}
	msgs, _ := f.store.ConversationMessages(context.Background(), f.conv.ID)
	var receipts []string
	for _, got := range msgs {
		if got.ID == m.ID && (got.Delivery != store.DeliveryFailed || !strings.Contains(got.Error, "MessageExpired")) {
			t.Fatalf("the message ended %q (%q), want failed with the reason", got.Delivery, got.Error)
		}
		if got.Kind == store.KindReceipt {
			receipts = append(receipts, got.Data.ReceiptStatus)
		}
	}
	if strings.Join(receipts, ",") != "Delivered,Failed" {
		t.Fatalf("receipts on the timeline: %v, want Delivered,Failed", receipts)
	}
	var heard []store.Message
	for _, e := range f.events() {
		if e.Kind == store.KindReceipt {
			heard = append(heard, e)
		}
	}
	if len(heard) != 1 || heard[0].Delivery != store.DeliveryFailed || heard[0].Data.AboutMessage != m.ID || !strings.Contains(heard[0].Error, "delivered in time") {
		t.Fatalf("receipts the bot hears: %+v; want the one failure, about message %d, with its reason", heard, m.ID)
	}
	// Genesys retrying the Delivered receipt changes nothing.
	if w := f.apply(f.receipt("g-1", genesys.ReceiptDelivered, false, "")); w.Outcome != store.OutcomeDuplicate {
		t.Fatalf("a retried receipt: outcome %q, want duplicate", w.Outcome)
	}
}

func TestReceiptsOnlyMoveADeliveryForward(t *testing.T) {
	f := newGenesysFixture(t, store.StateAgentJoined, relay.Config{})
	m := f.userMessage("g-2")
	for _, status := range []string{genesys.ReceiptSent, genesys.ReceiptRead, genesys.ReceiptDelivered} {
		f.apply(f.receipt("g-2", status, status == genesys.ReceiptDelivered, ""))
	}
	msgs, _ := f.store.ConversationMessages(context.Background(), f.conv.ID)
	for _, got := range msgs {
		if got.ID == m.ID && got.Delivery != store.DeliveryRead {
			t.Fatalf("Sent, Read then a late Delivered left the message %q, want read", got.Delivery)
		}
	}
	for _, e := range f.events() {
		if e.Kind == store.KindReceipt {
			t.Fatalf("the bot heard a receipt that is not a failure: %+v", e)
		}
	}
}

func (f *genesysFixture) trigger(body string) store.Conversation {
	f.t.Helper()
	ev, err := relay.ParseTriggerEvent([]byte(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.relay.HandleTrigger(context.Background(), f.e, ev); err != nil {
		f.t.Fatal(err)
	}
	return f.current()
}

func detailEvent(event, eventBody string) string {
	return `{"topicName":"v2.detail.events.conversation.gc-1.` + event + `","eventBody":` + eventBody + `}`
}

func TestUserStartIsAnOfferNotAJoin(t *testing.T) {
	f := newGenesysFixture(t, store.StateQueued, relay.Config{})
	c := f.trigger(detailEvent("user.start", `{"conversationId":"gc-1","userId":"agent-1","queueId":"q-1","eventTime":1736937100000}`))
	if c.State != store.StateQueued || c.AgentJoinedAt != nil {
		t.Fatalf("after user.start: state %q, joined %v; want still queued", c.State, c.AgentJoinedAt)
	}
}

func TestDeclinedOffersTransfersAndWrapUpDoNotEndTheHandover(t *testing.T) {
	cases := []struct {
		name, state, event, body string
	}{
		{"declined offer", store.StateQueued, "user.end", `{"conversationId":"gc-1","disconnectType":"ENDPOINT","interactingDurationMs":0,"alertingDurationMs":8000}`},
		{"offer timed out after a transfer", store.StateAgentJoined, "user.end", `{"conversationId":"gc-1","disconnectType":"TIMEOUT","interactingDurationMs":0}`},
		{"transfer to another agent", store.StateAgentJoined, "user.end", `{"conversationId":"gc-1","disconnectType":"TRANSFER","interactingDurationMs":42000}`},
		{"blind transfer", store.StateAgentJoined, "user.end", `{"conversationId":"gc-1","disconnectType":"FORWARD_TRANSFER","interactingDurationMs":42000}`},
		{"wrap-up while a transfer is under way", store.StateAgentJoined, "acw", `{"conversationId":"gc-1","wrapupCode":"w-1","wrapupDurationMs":60000}`},
		{"an offer ends before anyone joined", store.StateQueued, "user.end", `{"conversationId":"gc-1","disconnectType":"CLIENT"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newGenesysFixture(t, c.state, relay.Config{})
			if got := f.trigger(detailEvent(c.event, c.body)); !got.Open() || got.State != c.state {
				t.Fatalf("state %q, ended %v; want still %q", got.State, got.EndedAt, c.state)
			}
		})
	}
}

func TestEachEndReasonReachesTheBot(t *testing.T) {
	cases := []struct {
		event, body, reason string
	}{
		{"user.end", `{"conversationId":"gc-1","disconnectType":"CLIENT","interactingDurationMs":518000}`, store.ReasonAgentEnded},
		{"customer.end", `{"conversationId":"gc-1","disconnectType":"PEER"}`, store.ReasonAgentEnded},
		{"customer.end", `{"conversationId":"gc-1","disconnectType":"ENDPOINT"}`, store.ReasonUserEnded},
		{"user.end", `{"conversationId":"gc-1","disconnectType":"PEER","interactingDurationMs":1000}`, store.ReasonUserEnded},
		{"customer.end", `{"conversationId":"gc-1","disconnectType":"INACTIVITY"}`, store.ReasonInactivity},
		{"customer.end", `{"conversationId":"gc-1","disconnectType":"TIMEOUT"}`, store.ReasonTimeout},
		{"customer.end", `{"conversationId":"gc-1","disconnectType":"SESSION_EXPIRED"}`, store.ReasonSessionExpired},
		{"customer.end", `{"conversationId":"gc-1","disconnectType":"TRANSPORT_FAILURE"}`, store.ReasonError},
		{"customer.end", `{"conversationId":"gc-1","disconnectType":"TRANSFER"}`, store.ReasonTransferred},
	}
	for _, c := range cases {
		t.Run(c.event+" "+c.reason, func(t *testing.T) {
			f := newGenesysFixture(t, store.StateAgentJoined, relay.Config{})
			if got := f.trigger(detailEvent(c.event, c.body)); got.Open() || got.EndReason != c.reason {
				t.Fatalf("state %q reason %q, want ended with %q", got.State, got.EndReason, c.reason)
			}
			var heard string
			for _, e := range f.events() {
				if e.Kind == store.KindState && e.Data.State == store.StateEnded {
					heard = e.Data.Reason
				}
			}
			if heard != c.reason {
				t.Fatalf("the bot heard the end with reason %q, want %q", heard, c.reason)
			}
		})
	}
}

func TestEndReasonReadsBothSpellingsOfDisconnectType(t *testing.T) {
	for in, want := range map[string]string{
		"client": store.ReasonAgentEnded, "CLIENT": store.ReasonAgentEnded, "peer": store.ReasonAgentEnded, "endpoint": store.ReasonAgentEnded, "": store.ReasonAgentEnded,
		"inactivity": store.ReasonInactivity, "timeout": store.ReasonTimeout, "session.expired": store.ReasonSessionExpired, "SESSION_EXPIRED": store.ReasonSessionExpired,
		"error": store.ReasonError, "transport.failure": store.ReasonError, "system": store.ReasonError,
		"transfer.forward": store.ReasonTransferred, "NO_ANSWER_TRANSFER": store.ReasonTransferred,
	} {
		if got := relay.EndReason(in); got != want {
			t.Errorf("EndReason(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAnEventBridgeEnvelopeEndsTheHandover(t *testing.T) {
	f := newGenesysFixture(t, store.StateAgentJoined, relay.Config{})
	envelope, _ := json.Marshal(map[string]any{
		"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": "v2.detail.events.conversation.gc-1.customer.end",
		"source": "aws.partner/genesys.com/cloud/org-1/handover", "account": "123456789012", "time": "2026-12-03T10:00:00Z",
		"region": "eu-central-1", "resources": []string{},
		"detail": map[string]any{
			"topicName": "v2.detail.events.conversation.gc-1.customer.end", "version": "2",
			"eventBody": map[string]any{"eventTime": 1736937100000, "conversationId": "gc-1", "disconnectType": "PEER", "mediaType": "MESSAGE", "messageType": "OPEN"},
			"metadata":  map[string]any{"CorrelationId": "c-1"},
		},
	})
	ev, err := relay.ParseTriggerEvent(envelope)
	if err != nil || ev.ConversationID != "gc-1" || ev.Event != "customer.end" || ev.DisconnectType != "PEER" {
		t.Fatalf("parsed %+v, %v", ev, err)
	}
	if got := f.trigger(string(envelope)); got.Open() || got.EndReason != store.ReasonAgentEnded {
		t.Fatalf("state %q reason %q, want ended by the agent's side", got.State, got.EndReason)
	}
}

func TestASignedWebhookFromASkewedClockIsAnswered200AndAppliedOnce(t *testing.T) {
	f := newGenesysFixture(t, store.StateAgentJoined, relay.Config{WebhookReplayWindow: 24 * time.Hour})
	ctx := context.Background()
	now := time.Now()
	body := f.body("skewed-1", "from a clock two hours behind", now.Add(-2*time.Hour))
	res, err := f.relay.ReceiveWebhook(ctx, relay.IncomingWebhook{Body: body, Signature: genesys.Sign(replaySecret, body), ReceivedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	if f.answered(res.LogID) != 200 || res.Verdict != store.VerdictValid {
		t.Fatalf("answered %d %s, want 200 valid", f.answered(res.LogID), res.Verdict)
	}
	if err := f.relay.ProcessWebhook(ctx, res.LogID); err != nil {
		t.Fatal(err)
	}
	w, _ := f.store.WebhookByID(ctx, res.LogID)
	if w.Outcome != store.OutcomeDelivered || w.ClockSkewMS > -int64(119*time.Minute/time.Millisecond) || !strings.Contains(w.VerdictDetail, "behind") {
		t.Fatalf("logged outcome %q skew %d ms detail %q; want delivered, flagged about -2h", w.Outcome, w.ClockSkewMS, w.VerdictDetail)
	}
	if e, _ := f.store.EndpointByID(ctx, f.e.ID); e.ClockSkewAt == nil || e.ClockSkewMS != w.ClockSkewMS {
		t.Fatalf("the endpoint shows skew %d ms at %v, want %d", e.ClockSkewMS, e.ClockSkewAt, w.ClockSkewMS)
	}
	again, err := f.relay.ReceiveWebhook(ctx, relay.IncomingWebhook{Body: body, Signature: genesys.Sign(replaySecret, body), ReceivedAt: now})
	if err != nil || f.answered(again.LogID) != 200 {
		t.Fatalf("the same webhook again: %d, %v", f.answered(again.LogID), err)
	}
	if w, _ := f.store.WebhookByID(ctx, again.LogID); w.Outcome != store.OutcomeDuplicate {
		t.Fatalf("the same webhook again: outcome %q, want duplicate", w.Outcome)
	}
	if n := f.agentMessages(); n != 1 {
		t.Fatalf("%d agent messages, want 1", n)
	}
}

func TestASignedWebhookOutsideTheReplayWindowIsAnswered200ButNotApplied(t *testing.T) {
	f := newGenesysFixture(t, store.StateAgentJoined, relay.Config{WebhookReplayWindow: 24 * time.Hour})
	ctx := context.Background()
	now := time.Now()
	body := f.body("old-1", "captured yesterday", now.Add(-25*time.Hour))
	res, err := f.relay.ReceiveWebhook(ctx, relay.IncomingWebhook{Body: body, Signature: genesys.Sign(replaySecret, body), ReceivedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	w, _ := f.store.WebhookByID(ctx, res.LogID)
	if f.answered(res.LogID) != 200 || w.Verdict != store.VerdictStale || w.Outcome != store.OutcomeIgnored || w.ProcessedAt == nil || w.DedupeKey != nil {
		t.Fatalf("answered %d, logged %s/%s processed %v key %v; want 200, stale and not applied", f.answered(res.LogID), w.Verdict, w.Outcome, w.ProcessedAt, w.DedupeKey)
	}
	if err := f.relay.ProcessWebhook(ctx, res.LogID); err != nil {
		t.Fatal(err)
	}
	if n := f.agentMessages(); n != 0 {
		t.Fatalf("%d agent messages, want none", n)
	}
	// A forged one is still refused.
	forged, err := f.relay.ReceiveWebhook(ctx, relay.IncomingWebhook{Body: body, Signature: genesys.Sign("wrong-secret-0123456789", body), ReceivedAt: now})
	if err != nil || f.answered(forged.LogID) != 401 {
		t.Fatalf("a forged webhook: %d, %v; want 401", f.answered(forged.LogID), err)
	}
}

func TestDedupeKeysOutliveAShortLogRetention(t *testing.T) {
	now := time.Now()
	f := newGenesysFixture(t, store.StateAgentJoined, relay.Config{WebhookReplayWindow: 24 * time.Hour})
	ctx := context.Background()
	w := f.receive(f.body("kept-1", "hello", now.Add(-3*time.Hour)), replaySecret, now.Add(-3*time.Hour))
	if err := f.relay.PruneLogs(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.WebhookByID(ctx, w.ID); err != nil {
		t.Fatalf("a webhook inside the replay window was pruned by a one-hour retention: %v", err)
	}
}

func TestQueueSnapshotsJoinOnlyAConnectedAgentAndEndOnlyWhenTheLastOneLeaves(t *testing.T) {
	at := func(minute int) genesys.Timestamp {
		return genesys.TimestampOf(time.Date(2026, 12, 3, 10, minute, 0, 0, time.UTC))
	}
	customer := genesys.Participant{ID: "p-c", Purpose: "customer", State: "connected", ConnectedTime: at(0)}
	offered := func(id, name string) genesys.Participant {
		return genesys.Participant{ID: id, Purpose: "agent", State: "alerting", User: &genesys.EntityRef{ID: "u-" + id, Name: name}}
	}
	connected := func(id, name string, minute int) genesys.Participant {
		p := offered(id, name)
		p.State, p.ConnectedTime = "connected", at(minute)
		return p
	}
	left := func(p genesys.Participant, disconnectType string, minute int) genesys.Participant {
		p.State, p.DisconnectType, p.EndTime = "disconnected", disconnectType, at(minute)
		return p
	}
	f := newGenesysFixture(t, store.StateQueued, relay.Config{})
	ctx := context.Background()
	steps := []struct {
		name         string
		participants []genesys.Participant
		state, agent string
	}{
		{"offered to Ann", []genesys.Participant{customer, offered("a", "Ann")}, store.StateQueued, ""},
		{"Ann declines", []genesys.Participant{customer, left(offered("a", "Ann"), "endpoint", 1)}, store.StateQueued, ""},
		{"Bob's offer times out", []genesys.Participant{customer, left(offered("a", "Ann"), "endpoint", 1), left(offered("b", "Bob"), "timeout", 2)}, store.StateQueued, ""},
		{"Cid answers", []genesys.Participant{customer, connected("c", "Cid", 3)}, store.StateAgentJoined, "Cid"},
		{"Cid transfers to Dee, who is offered it", []genesys.Participant{customer, left(connected("c", "Cid", 3), "transfer", 4), offered("d", "Dee")}, store.StateAgentJoined, "Cid"},
		{"Dee answers", []genesys.Participant{customer, left(connected("c", "Cid", 3), "transfer", 4), connected("d", "Dee", 5)}, store.StateAgentJoined, "Dee"},
		{"Dee transfers to another queue", []genesys.Participant{customer, left(connected("d", "Dee", 5), "transfer.forward", 6),
			{ID: "acd-2", Purpose: "acd", State: "connected", ConnectedTime: at(6)}}, store.StateAgentJoined, "Dee"},
		{"Eve answers there, Cid's old leg still listed", []genesys.Participant{customer, left(connected("c", "Cid", 3), "client", 4), connected("e", "Eve", 7)}, store.StateAgentJoined, "Eve"},
		{"Eve leaves", []genesys.Participant{customer, left(connected("e", "Eve", 7), "client", 8)}, store.StateEnded, "Eve"},
	}
	for _, step := range steps {
		if err := f.relay.ApplyGenesysState(ctx, f.current(), step.participants); err != nil {
			t.Fatal(err)
		}
		if c := f.current(); c.State != step.state || c.AgentName != step.agent {
			t.Fatalf("%s: state %q agent %q, want %q %q", step.name, c.State, c.AgentName, step.state, step.agent)
		}
	}
	if c := f.current(); c.EndReason != store.ReasonAgentEnded {
		t.Fatalf("ended with %q, want agent_ended", c.EndReason)
	}
	var joins []string
	for _, e := range f.events() {
		if e.Kind == store.KindState && e.Data.State == store.StateAgentJoined {
			joins = append(joins, e.Data.AgentName)
		}
	}
	if strings.Join(joins, ",") != "Cid,Dee,Eve" {
		t.Fatalf("the bot heard agents join: %v, want Cid,Dee,Eve", joins)
	}
}

func TestACustomerLegEndedByInactivityEndsWithThatReason(t *testing.T) {
	f := newGenesysFixture(t, store.StateAgentJoined, relay.Config{})
	customer := genesys.Participant{ID: "p-c", Purpose: "customer", State: "disconnected", DisconnectType: "inactivity"}
	if err := f.relay.ApplyGenesysState(context.Background(), f.current(), []genesys.Participant{customer}); err != nil {
		t.Fatal(err)
	}
	if c := f.current(); c.Open() || c.EndReason != store.ReasonInactivity {
		t.Fatalf("state %q reason %q, want ended by inactivity", c.State, c.EndReason)
	}
}

func TestAnOlderSnapshotDoesNotRenameTheAgentBack(t *testing.T) {
	f := newGenesysFixture(t, store.StateQueued, relay.Config{})
	ctx := context.Background()
	customer := genesys.Participant{ID: "p-c", Purpose: "customer", State: "connected"}
	agent := func(id, name string, minute int) genesys.Participant {
		return genesys.Participant{ID: id, Purpose: "agent", State: "connected", User: &genesys.EntityRef{ID: "u-" + id, Name: name},
			ConnectedTime: genesys.TimestampOf(time.Date(2026, 12, 3, 10, minute, 0, 0, time.UTC))}
	}
	// A queue event shows Dee, who took over from Cid; a poll that started
	// before the transfer answers afterwards, still showing Cid.
	for _, snapshot := range [][]genesys.Participant{{customer, agent("d", "Dee", 5)}, {customer, agent("c", "Cid", 3)}} {
		if err := f.relay.ApplyGenesysState(ctx, f.current(), snapshot); err != nil {
			t.Fatal(err)
		}
	}
	if c := f.current(); c.AgentName != "Dee" {
		t.Fatalf("agent %q after a stale snapshot, want Dee", c.AgentName)
	}
}

// answered is the status a webhook's log row says it was answered with.
func (f *genesysFixture) answered(id int64) int {
	w, _ := f.store.WebhookByID(context.Background(), id)
	return w.Status
}
