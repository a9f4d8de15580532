package e2e

// Handover against a sandbox that plays Genesys as it is, not as it is
// simplest (docs/genesys.md §RealGenesys): flow messages before any agent,
// offers that are declined or time out, transfers, after-call work, receipt
// sequences, EventBridge envelopes, skewed clocks and structured content.
// Every exchange crosses loopback HTTP.

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/genesys/sandbox"
	"github.com/handover-relay/handover/internal/testkit"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store"
)

// stateEvents collects the state events of a stream up to and including
// the first that satisfies last.
func stateEvents(t *testing.T, events <-chan sseEvent, last func(sseEvent) bool) []sseEvent {
	t.Helper()
	var out []sseEvent
	for {
		ev := next(t, events, "state")
		out = append(out, ev)
		if last(ev) {
			return out
		}
	}
}

func describeStates(events []sseEvent) string {
	parts := make([]string, len(events))
	for i, ev := range events {
		parts[i] = strings.Join(strings.Fields(stringOf(ev.Data["state"])+" "+stringOf(ev.Data["agentName"])+" "+stringOf(ev.Data["reason"])), " ")
	}
	return strings.Join(parts, " | ")
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}

func TestAFlowGreetingBeforeTheAgentReachesTheUserAndIsNotAJoin(t *testing.T) {
	g := startSandbox(t, func(c *sandbox.Config) { c.FlowGreeting = "Connected. An agent will be with you shortly." })
	d := newDeployment(t, g)
	inst := d.start()
	token := d.endpoint.URLToken
	events := inst.events(token, "s1", "")
	inst.post("/"+token+"/handover", handoverBody("s1"))

	greeting := next(t, events, "message")
	if greeting.Data["from"] != "system" || greeting.Data["origin"] != "genesys_flow" || greeting.Data["text"] != "Connected. An agent will be with you shortly." {
		t.Fatalf("the flow greeting arrived as %v", greeting.Data)
	}
	c, err := inst.srv.Store.LatestConversation(context.Background(), d.endpoint.ID, "s1")
	if err != nil || c.State != store.StateQueued || c.AgentJoinedAt != nil || c.FirstAgentMessageAt != nil {
		t.Fatalf("after the greeting: %+v, %v; want still queued, no agent, no first answer", c, err)
	}

	conv := d.sandboxConversation(inst, "s1")
	if err := g.Accept(conv.ID, "Max Agent"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.AgentSend(conv.ID, "Hi, Max here.", ""); err != nil {
		t.Fatal(err)
	}
	// The next state after the greeting is the agent's join: the greeting was none.
	states := stateEvents(t, events, func(ev sseEvent) bool { return ev.Data["state"] == store.StateAgentJoined })
	if got := describeStates(states); got != "agent_joined Max Agent" {
		t.Fatalf("states after the greeting %q, want only Max Agent joining", got)
	}
	if ev := next(t, events, "message"); ev.Data["from"] != "agent" || ev.Data["agentName"] != "Max Agent" {
		t.Fatalf("the agent's message arrived as %v; the webhook names only the integration, the name comes from Genesys's participants", ev.Data)
	}
}

func TestDeliveredThenFailedReachesTheBotWithTheReason(t *testing.T) {
	g := startSandbox(t, func(c *sandbox.Config) { c.ReceiptSequence = []string{} }) // the test sends the receipts
	d := newDeployment(t, g)
	inst := d.start()
	token := d.endpoint.URLToken
	events := inst.events(token, "s1", "")
	inst.post("/"+token+"/handover", handoverBody("s1"))
	conv := d.sandboxConversation(inst, "s1")
	if status, out := inst.post("/"+token, map[string]any{"userId": "user-s1", "sessionId": "s1", "text": "my card was charged twice"}); status != http.StatusAccepted {
		t.Fatalf("user message: %d %v", status, out)
	}
	var sent store.Message
	testkit.WaitFor(t, 5*time.Second, "the user's message sent to Genesys", func() bool {
		msgs, _ := inst.srv.Store.ConversationMessages(context.Background(), 1)
		for _, m := range msgs {
			if m.Direction == store.FromUser && m.GenesysMessageID != "" {
				sent = m
				return true
			}
		}
		return false
	})
	if err := g.SendReceipt(conv.ID, sent.GenesysMessageID, genesys.ReceiptDelivered, false, nil); err != nil {
		t.Fatal(err)
	}
	reasons := []genesys.Reason{{Code: genesys.ReasonMessageExpired, Message: "Message could not be delivered in time"}}
	if err := g.SendReceipt(conv.ID, sent.GenesysMessageID, genesys.ReceiptFailed, true, reasons); err != nil {
		t.Fatal(err)
	}
	ev := next(t, events, "receipt")
	if ev.Data["status"] != store.DeliveryFailed || ev.Data["genesysStatus"] != genesys.ReceiptFailed ||
		ev.Data["messageId"] != float64(sent.ID) || !strings.Contains(stringOf(ev.Data["reason"]), "delivered in time") {
		t.Fatalf("the bot heard %v; want the failure of message %d with its reason", ev.Data, sent.ID)
	}
	msgs, _ := inst.srv.Store.ConversationMessages(context.Background(), 1)
	var receipts []string
	for _, m := range msgs {
		if m.ID == sent.ID && (m.Delivery != store.DeliveryFailed || !strings.Contains(m.Error, genesys.ReasonMessageExpired)) {
			t.Fatalf("the user's message is %q (%q), want failed with the reason", m.Delivery, m.Error)
		}
		if m.Kind == store.KindReceipt {
			receipts = append(receipts, m.Data.ReceiptStatus)
		}
	}
	if strings.Join(receipts, ",") != "Delivered,Failed" {
		t.Fatalf("receipts on the timeline: %v", receipts)
	}
}

// otherQueueID is a second sandbox queue, for transfers.
const otherQueueID = "7c1e4b2a-9d3f-4e8a-b6c5-0f1e2d3c4b5a"

func TestOffersDeclinesTransfersAndWrapUpDoNotEndTheHandover(t *testing.T) {
	g := startSandbox(t, nil)
	g.AddQueue(otherQueueID, "Billing")
	d := newDeployment(t, g)
	inst := d.start()
	token := d.endpoint.URLToken
	// The detail events reach the relay too, as a Process Automation trigger would post them.
	g.AddEventDestination(sandbox.EventDestination{URL: inst.base + "/handover/genesysCloudOM/events", Authorization: "Bearer " + token, Format: sandbox.EventFormatTrigger})
	events := inst.events(token, "s1", "")
	inst.post("/"+token+"/handover", handoverBody("s1"))
	conv := d.sandboxConversation(inst, "s1")

	steps := []struct {
		name string
		do   func() error
	}{
		{"offer to Ann", func() error { return g.Offer(conv.ID, "Ann") }},
		{"Ann declines", func() error { return g.DeclineOffer(conv.ID) }},
		{"offer to Bob", func() error { return g.Offer(conv.ID, "Bob") }},
		{"Bob's offer times out", func() error { return g.OfferTimeout(conv.ID) }},
		{"Cid answers", func() error { return g.Accept(conv.ID, "Cid") }},
		{"Cid transfers to Dee", func() error { return g.TransferToAgent(conv.ID, "Dee") }},
		{"Cid wraps up", func() error { return g.FinishWrapup(conv.ID, "transferred") }},
		{"Dee answers", func() error { return g.Accept(conv.ID, "Dee") }},
		{"Dee transfers to the billing queue", func() error { return g.TransferToQueue(conv.ID, otherQueueID) }},
		{"Eve answers there", func() error { return g.Accept(conv.ID, "Eve") }},
		{"Eve ends it", func() error { return g.AgentEnd(conv.ID) }},
	}
	for _, step := range steps {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if want, _, _ := strings.Cut(step.name, " answers"); want != step.name {
			// Wait for each join before the next step: an agent who is gone
			// by the time Genesys is next read is rightly never announced.
			stateEvents(t, events, func(ev sseEvent) bool { return ev.Data["agentName"] == want })
		}
	}
	testkit.WaitFor(t, 5*time.Second, "the end", func() bool {
		c, _ := inst.srv.Store.LatestConversation(context.Background(), d.endpoint.ID, "s1")
		return !c.Open()
	})
	msgs, _ := inst.srv.Store.ConversationMessages(context.Background(), 1)
	var states []string
	for _, m := range msgs {
		if m.Kind == store.KindState {
			states = append(states, strings.Join(strings.Fields(m.Data.State+" "+m.Data.AgentName+" "+m.Data.Reason), " "))
		}
	}
	if got, want := strings.Join(states, " | "), "queued | agent_joined Cid | agent_joined Dee | agent_joined Eve | ended agent_ended"; got != want {
		t.Fatalf("states %q\nwant   %q", got, want)
	}
	for _, ev := range g.EventDeliveries() {
		if ev.Status != http.StatusOK {
			t.Errorf("the relay answered %s (%s) with %d: %s", ev.Kind, ev.Topic, ev.Status, ev.Error)
		}
	}
}

// eventBridgeOnly is a deployment whose queue topic Genesys refuses and whose
// polls are an hour apart: only the EventBridge destination can end a handover.
func eventBridgeOnly(t *testing.T, g *genesysFake) (*deployment, *instance) {
	t.Helper()
	d := newDeployment(t, g)
	d.tune = func(rc *relay.Config, _ *sandbox.Config) { rc.PollInterval = time.Hour }
	setup := d.start()
	d.endpoint.QueueID = "00000000-0000-4000-8000-00000000dead" // not a sandbox queue: its topic is Rejected
	if err := setup.srv.Store.UpdateEndpoint(context.Background(), &d.endpoint); err != nil {
		t.Fatal(err)
	}
	setup.stopOrFail()
	inst := d.start()
	g.AddEventDestination(sandbox.EventDestination{URL: inst.base + "/handover/genesysCloudOM/events", Authorization: "Bearer " + d.endpoint.URLToken, Format: sandbox.EventFormatEventBridge})
	return d, inst
}

func TestAnEventBridgeEnvelopeEndsTheHandoverWithItsReason(t *testing.T) {
	cases := []struct {
		name   string
		end    func(g *genesysFake, id string) error
		reason string
	}{
		{"the agent ends it", func(g *genesysFake, id string) error { return g.AgentEnd(id) }, store.ReasonAgentEnded},
		{"the customer's side ends it", func(g *genesysFake, id string) error { return g.CustomerEnd(id) }, store.ReasonUserEnded},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := startSandbox(t, nil)
			d, inst := eventBridgeOnly(t, g)
			token := d.endpoint.URLToken
			events := inst.events(token, "s1", "")
			inst.post("/"+token+"/handover", handoverBody("s1"))
			conv := d.sandboxConversation(inst, "s1")
			if err := g.Accept(conv.ID, "Max Agent"); err != nil {
				t.Fatal(err)
			}
			if _, err := g.AgentSend(conv.ID, "Hello", ""); err != nil { // joins through the webhook
				t.Fatal(err)
			}
			if err := c.end(g, conv.ID); err != nil {
				t.Fatal(err)
			}
			states := stateEvents(t, events, func(ev sseEvent) bool { return ev.Data["state"] == store.StateEnded })
			if last := states[len(states)-1]; last.Data["reason"] != c.reason {
				t.Fatalf("ended with %v, want %s", last.Data, c.reason)
			}
			testkit.WaitFor(t, 5*time.Second, "the EventBridge customer.end answered 200", func() bool {
				for _, ev := range g.EventDeliveries() {
					if ev.Format == sandbox.EventFormatEventBridge && ev.Kind == sandbox.DetailCustomerEnd && ev.Status == http.StatusOK && strings.Contains(string(ev.Body), `"detail-type"`) {
						return true
					}
				}
				return false
			})
			if polls := countCalls(t, inst, "GET", "/api/v2/conversations/messages/"); polls > 1 {
				t.Fatalf("%d polls: the end may have come from a poll, not EventBridge", polls)
			}
		})
	}
}

func TestASkewedButSignedWebhookIsDeliveredOnceWith200(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	inst := d.start()
	token := d.endpoint.URLToken
	events := inst.events(token, "s1", "")
	inst.post("/"+token+"/handover", handoverBody("s1"))
	conv := d.sandboxConversation(inst, "s1")
	g.Accept(conv.ID, "Max Agent")
	g.SkewWebhookClock(-20 * time.Minute) // refused with 401 before: older than 15 minutes
	skewedID, err := g.AgentSend(conv.ID, "from a clock twenty minutes behind", "")
	if err != nil {
		t.Fatal(err)
	}
	g.SkewWebhookClock(0)
	if _, err := g.AgentSend(conv.ID, "on time", ""); err != nil {
		t.Fatal(err)
	}
	var texts []string
	for len(texts) < 2 {
		texts = append(texts, stringOf(next(t, events, "message").Data["text"]))
	}
	if strings.Join(texts, "|") != "from a clock twenty minutes behind|on time" {
		t.Fatalf("the bot got %q", texts)
	}
	for _, del := range g.Deliveries() {
		if del.MessageID == skewedID && del.Status != http.StatusOK {
			t.Fatalf("the skewed webhook was answered %d", del.Status)
		}
	}
	var skewed int
	inst.srv.Store.ForEachWebhook(context.Background(), func(w store.Webhook) {
		if w.GenesysMessageID == skewedID {
			skewed++
			if w.Status != 200 || w.Verdict != store.VerdictValid || w.ClockSkewMS > -19*60*1000 {
				t.Errorf("logged as %d %s skew %d ms", w.Status, w.Verdict, w.ClockSkewMS)
			}
		}
	})
	if skewed != 1 {
		t.Fatalf("the skewed webhook is logged %d times", skewed)
	}
	if e, _ := inst.srv.Store.EndpointByID(context.Background(), d.endpoint.ID); e.ClockSkewMS > -19*60*1000 {
		t.Fatalf("the endpoint shows a skew of %d ms", e.ClockSkewMS)
	}
}

func TestStructuredContentFromABotFlowReachesTheBotAndItsAnswersReachGenesys(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	inst := d.start()
	token := d.endpoint.URLToken
	events := inst.events(token, "s1", "")
	inst.post("/"+token+"/handover", handoverBody("s1"))
	conv := d.sandboxConversation(inst, "s1")
	slot := time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)
	content := []genesys.Content{
		{ContentType: genesys.ContentTypeCard, Card: &genesys.Card{Title: "Premium plan", Description: "Faster answers",
			Actions: []genesys.CardAction{{Type: genesys.CardActionPostback, Text: "Choose", Payload: "PLAN_PREMIUM"}, {Type: genesys.CardActionLink, Text: "Details", URL: "https://example.com/premium"}}}},
		{ContentType: genesys.ContentTypeDatePicker, DatePicker: &genesys.DatePicker{Title: "Pick a call-back time", AvailableTimes: []genesys.DatePickerTime{{DateTime: genesys.TimestampOf(slot), Duration: 1800}}}},
	}
	flowID, err := g.FlowStructured(conv.ID, "", content)
	if err != nil {
		t.Fatal(err)
	}
	ev := next(t, events, "message")
	cards, _ := ev.Data["cards"].([]any)
	picker, _ := ev.Data["datePicker"].(map[string]any)
	if ev.Data["from"] != "system" || len(cards) != 1 || picker == nil || !strings.Contains(stringOf(ev.Data["text"]), "Premium plan") {
		t.Fatalf("the bot got %v; want the card and the date picker as data, with a fallback text", ev.Data)
	}
	card := cards[0].(map[string]any)
	actions := card["actions"].([]any)
	if card["title"] != "Premium plan" || len(actions) != 2 || actions[0].(map[string]any)["payload"] != "PLAN_PREMIUM" || actions[1].(map[string]any)["url"] != "https://example.com/premium" {
		t.Fatalf("card %v", card)
	}

	status, out := inst.post("/"+token, map[string]any{"userId": "user-s1", "sessionId": "s1", "text": "Choose",
		"data": map[string]any{"quickReply": map[string]any{"type": "Button", "text": "Choose", "payload": "PLAN_PREMIUM", "originatingMessageId": flowID}}})
	if status != http.StatusAccepted {
		t.Fatalf("answering the card: %d %v", status, out)
	}
	testkit.WaitFor(t, 5*time.Second, "the card's answer at Genesys", func() bool {
		for _, rec := range g.Inbound() {
			if r, ok := rec.Parsed.(genesys.InboundStructuredResponse); ok && rec.Kind == sandbox.KindStructured {
				return r.ButtonResponse.Type == genesys.ButtonTypeButton && r.ButtonResponse.Payload == "PLAN_PREMIUM" && r.OriginatingMessageID == flowID
			}
		}
		return false
	})
	if rejected := g.Rejected(); len(rejected) > 0 {
		t.Fatalf("the sandbox refused requests as Genesys would: %+v", rejected)
	}
}

// countCalls counts the Genesys calls an instance logged whose method is
// method and whose path starts with prefix.
func countCalls(t *testing.T, inst *instance, method, prefix string) int {
	t.Helper()
	calls, err := inst.srv.Store.ListAPICalls(context.Background(), store.APICallFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range calls.Rows {
		if c.Method == method && strings.HasPrefix(c.Path, prefix) {
			n++
		}
	}
	return n
}

func TestAnAttachmentTheIntegrationDoesNotAcceptIsRefusedClearly(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	inst := d.start()
	token := d.endpoint.URLToken
	inst.post("/"+token+"/handover", handoverBody("s1"))
	conv := d.sandboxConversation(inst, "s1")
	if err := g.SetInboundMediaTypes(conv.IntegrationID, "image/*"); err != nil {
		t.Fatal(err)
	}
	send := func(mime string) (int, map[string]any) {
		return inst.post("/"+token, map[string]any{"userId": "user-s1", "sessionId": "s1", "text": "see attached",
			"data": map[string]any{"attachments": []map[string]any{{"url": "https://example.com/f", "mime": mime, "filename": "f"}}}})
	}
	status, out := send("application/pdf")
	errBody, _ := out["error"].(map[string]any)
	if status != http.StatusUnprocessableEntity || errBody["code"] != "attachment_not_allowed" || !strings.Contains(stringOf(errBody["message"]), "image/*") {
		t.Fatalf("a PDF: %d %v; want 422 attachment_not_allowed naming what is accepted", status, out)
	}
	if status, out := send("image/png"); status != http.StatusAccepted {
		t.Fatalf("a PNG: %d %v", status, out)
	}
}
