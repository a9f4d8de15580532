package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/genesys/sandbox"
	"github.com/handover-relay/handover/internal/testkit"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

func handoverBody(sessionID string) map[string]any {
	return map[string]any{
		"userId": "user-" + sessionID, "sessionId": sessionID,
		"profile":  map[string]any{"firstName": "Jane", "lastName": "Doe", "email": "jane@example.com"},
		"language": "german", "skills": []string{"billing", "vip"}, "priority": 7,
		"customAttributes": map[string]any{"contract": "C-4711", "tier": "platinum"},
		"transcript": []map[string]any{
			{"source": "user", "text": "My invoice is wrong", "time": "2025-01-15T10:21:33Z"},
			{"source": "bot", "text": "I can connect you with a human.", "time": "2025-01-15T10:21:35Z"},
		},
	}
}

func TestHandoverReachesGenesysWithEveryAttribute(t *testing.T) {
	storetest.RunDialects(t, testHandoverReachesGenesysWithEveryAttribute)
}

func testHandoverReachesGenesysWithEveryAttribute(t *testing.T, dialect store.Dialect) {
	g := startSandbox(t, nil)
	d := newDeploymentOn(t, g, dialect)
	inst := d.start()
	token := d.endpoint.URLToken

	status, out := inst.post("/"+token+"/handover", handoverBody("s1"))
	if status != http.StatusAccepted || out["state"] != "queued" || out["conversationId"] == nil {
		t.Fatalf("handover: %d %v", status, out)
	}
	conv := d.sandboxConversation(inst, "s1")

	var first genesys.InboundMessage
	for _, rec := range g.Inbound() {
		if rec.ConversationID == conv.ID && rec.Kind == sandbox.KindMessage {
			first = rec.Parsed.(genesys.InboundMessage)
			break
		}
	}
	want := map[string]string{
		"queueId": e2eQueueID, "myLanguage": "german", "mySkills": "billing,vip", "userId": "user-s1", "myPriority": "7", "sessionId": "s1",
		"contract": "C-4711", "tier": "platinum",
	}
	if first.Channel.Metadata == nil {
		t.Fatal("the first message carries no custom attributes")
	}
	for k, v := range want {
		if got := first.Channel.Metadata.CustomAttributes[k]; got != v {
			t.Errorf("customAttributes[%s] = %q, want %q", k, got, v)
		}
	}
	from := first.Channel.From
	if from.FirstName != "Jane" || from.LastName != "Doe" || from.IDType != "Opaque" || !strings.HasPrefix(from.ID, "hov-") {
		t.Errorf("channel.from = %+v", from)
	}
	if first.Channel.MessageID == "" || first.Channel.Time.IsZero() {
		t.Errorf("channel.messageId %q, time %v", first.Channel.MessageID, first.Channel.Time)
	}
	for _, want := range []string{"User: My invoice is wrong", "Bot: I can connect you with a human.", "2025-01-15 10:21:33 UTC"} {
		if !strings.Contains(first.Text, want) {
			t.Errorf("transcript message %q lacks %q", first.Text, want)
		}
	}
	if participant := conv.Participants[0]; participant.Attributes["myLanguage"] != "german" {
		t.Errorf("participant data in Genesys = %v", participant.Attributes)
	}
	if rejected := g.Rejected(); len(rejected) > 0 {
		t.Fatalf("the sandbox refused requests as Genesys would: %+v", rejected)
	}

	status, out = inst.post("/"+token+"/handover", handoverBody("s1"))
	if status != http.StatusConflict || out["error"].(map[string]any)["code"] != "already_in_handover" {
		t.Fatalf("second handover of the same session: %d %v, want 409", status, out)
	}
}

func TestProfileStaysHomeWhenTheSwitchIsOff(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	inst := d.start()
	d.endpoint.SendProfile = false
	if err := inst.srv.Store.UpdateEndpoint(context.Background(), &d.endpoint); err != nil {
		t.Fatal(err)
	}
	inst.post("/"+d.endpoint.URLToken+"/handover", handoverBody("s1"))
	conv := d.sandboxConversation(inst, "s1")
	if c := conv.Customer; c.FirstName != "" || c.LastName != "" || c.Email != "" || c.Nickname != "" {
		t.Fatalf("profile sent with the switch off: %+v", c)
	}
}

func TestUserAndAgentTalkBothWaysInOrderWithTyping(t *testing.T) {
	storetest.RunDialects(t, testUserAndAgentTalkBothWaysInOrderWithTyping)
}

func testUserAndAgentTalkBothWaysInOrderWithTyping(t *testing.T, dialect store.Dialect) {
	g := startSandbox(t, nil)
	d := newDeploymentOn(t, g, dialect)
	inst := d.start()
	token := d.endpoint.URLToken
	events := inst.events(token, "s1", "")

	inst.post("/"+token+"/handover", handoverBody("s1"))
	if ev := next(t, events, "state"); ev.Data["state"] != "queued" {
		t.Fatalf("first state %v", ev.Data)
	}
	conv := d.sandboxConversation(inst, "s1")
	if err := g.Accept(conv.ID, "Max Agent"); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, events, "state"); ev.Data["state"] != "agent_joined" {
		t.Fatalf("after accept: %v", ev.Data)
	}

	for i := 1; i <= 3; i++ {
		if status, out := inst.post("/"+token, map[string]any{"userId": "user-s1", "sessionId": "s1", "text": fmt.Sprintf("user %d", i)}); status != http.StatusAccepted {
			t.Fatalf("user message %d: %d %v", i, status, out)
		}
		if _, err := g.AgentSend(conv.ID, fmt.Sprintf("agent %d", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 3; i++ {
		ev := next(t, events, "message")
		if ev.Data["from"] != "agent" || ev.Data["text"] != fmt.Sprintf("agent %d", i) {
			t.Fatalf("agent message %d arrived as %v", i, ev.Data)
		}
	}
	testkit.WaitFor(t, 5*time.Second, "the user's messages at Genesys", func() bool {
		c, _ := g.Conversation(conv.ID)
		return len(customerTexts(c)) >= 4
	})
	c, _ := g.Conversation(conv.ID)
	if got := strings.Join(customerTexts(c)[1:], "|"); got != "user 1|user 2|user 3" {
		t.Fatalf("Genesys got %q", got)
	}

	// Typing, both ways.
	if _, err := http.Post(inst.base+"/"+token+"/sessions/s1/typing", "application/json", nil); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 5*time.Second, "the user's typing at Genesys", func() bool {
		c, _ := g.Conversation(conv.ID)
		return !c.CustomerTypingAt.IsZero()
	})
	if err := g.AgentTyping(conv.ID); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, events, "typing"); ev.Data["from"] != "agent" {
		t.Fatalf("typing event %v", ev.Data)
	}

	// Every agent message was acknowledged with a Delivered receipt.
	testkit.WaitFor(t, 5*time.Second, "Delivered receipts", func() bool {
		c, _ := g.Conversation(conv.ID)
		delivered := 0
		for _, m := range c.Messages {
			if m.Direction == genesys.DirectionOutbound && m.ReceiptStatus == genesys.ReceiptDelivered {
				delivered++
			}
		}
		return delivered == 3
	})
}

func TestAgentEndingReturnsTheSessionToTheBot(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	inst := d.start()
	token := d.endpoint.URLToken
	events := inst.events(token, "s1", "")
	inst.post("/"+token+"/handover", handoverBody("s1"))
	conv := d.sandboxConversation(inst, "s1")
	g.Accept(conv.ID, "Max Agent")
	next(t, events, "state")
	if err := g.AgentEnd(conv.ID); err != nil {
		t.Fatal(err)
	}
	for {
		ev := next(t, events, "state")
		if ev.Data["state"] == "ended" {
			if ev.Data["reason"] != store.ReasonAgentEnded {
				t.Fatalf("ended with %v", ev.Data)
			}
			break
		}
	}
	if ev := next(t, events, "message"); ev.Data["from"] != "bot" || !strings.Contains(ev.Data["text"].(string), "agent has ended") {
		t.Fatalf("the bot did not say so: %v", ev.Data)
	}
	status, out := inst.post("/"+token, map[string]any{"userId": "user-s1", "sessionId": "s1", "text": "hello again"})
	if status != http.StatusOK || out["outputs"] == nil {
		t.Fatalf("after the end the bot answers: %d %v", status, out)
	}
	// And a new handover of the same session is possible.
	if status, _ := inst.post("/"+token+"/handover", handoverBody("s1")); status != http.StatusAccepted {
		t.Fatalf("new handover after the end: %d", status)
	}
}

func TestUserEndingDisconnectsTheCustomerInGenesys(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	inst := d.start()
	token := d.endpoint.URLToken
	inst.post("/"+token+"/handover", handoverBody("s1"))
	conv := d.sandboxConversation(inst, "s1")
	g.Accept(conv.ID, "Max Agent")

	status, out := inst.post("/"+token+"/sessions/s1/end", nil)
	if status != http.StatusOK || out["state"] != "ended" || out["reason"] != store.ReasonUserEnded {
		t.Fatalf("end: %d %v", status, out)
	}
	testkit.WaitFor(t, 5*time.Second, "the customer disconnected in Genesys", func() bool {
		c, _ := g.Conversation(conv.ID)
		for _, p := range c.Participants {
			if p.Purpose == "customer" && p.State == "disconnected" {
				return true
			}
		}
		return false
	})
	if status, _ := inst.post("/"+token+"/sessions/s1/end", nil); status != http.StatusConflict {
		t.Fatalf("ending twice: %d, want 409", status)
	}
}

func TestUnknownDeploymentNameIsAClearError(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	inst := d.start()
	d.endpoint.DeploymentName = "no-such-deployment"
	d.endpoint.IntegrationID = ""
	if err := inst.srv.Store.UpdateEndpoint(context.Background(), &d.endpoint); err != nil {
		t.Fatal(err)
	}
	status, out := inst.post("/"+d.endpoint.URLToken+"/handover", handoverBody("s1"))
	msg, _ := out["error"].(map[string]any)["message"].(string)
	if status != http.StatusUnprocessableEntity || !strings.Contains(msg, "no-such-deployment") || !strings.Contains(msg, e2eDeployment) {
		t.Fatalf("handover with a wrong deployment name: %d %q; want 422 naming it and the ones that exist", status, msg)
	}
	e, _ := inst.srv.Store.EndpointByID(context.Background(), d.endpoint.ID)
	if !strings.Contains(e.IntegrationError, "no-such-deployment") {
		t.Fatalf("endpoint integration error = %q", e.IntegrationError)
	}
}

// signedWebhook is an agent text webhook for the session's customer id.
func (d *deployment) signedWebhook(inst *instance, sessionID, id, text string, at time.Time) ([]byte, string) {
	conv, err := inst.srv.Store.LatestConversation(context.Background(), d.endpoint.ID, sessionID)
	if err != nil {
		d.t.Fatal(err)
	}
	e, _ := inst.srv.Store.EndpointByID(context.Background(), d.endpoint.ID)
	body, _ := json.Marshal(genesys.Webhook{
		ID: id, Type: genesys.MessageTypeText, Text: text, Direction: "Outbound",
		Channel: genesys.Channel{ID: e.IntegrationID, Platform: "Open", Type: "Private", MessageID: id,
			To: genesys.Recipient{ID: conv.CustomerID}, From: genesys.Recipient{ID: e.IntegrationID, IDType: "Opaque", Nickname: "Max"}, Time: genesys.TimestampOf(at)},
	})
	return body, genesys.Sign(d.secret, body)
}

func (i *instance) postWebhook(body []byte, signature string) int {
	i.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, i.base+"/handover/genesysCloudOM", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set(genesys.SignatureHeader, signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		i.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestWebhooksWithForgedOrMissingSignaturesAreRejectedAndLogged(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	inst := d.start()
	inst.post("/"+d.endpoint.URLToken+"/handover", handoverBody("s1"))
	d.sandboxConversation(inst, "s1")
	now := time.Now()

	body, good := d.signedWebhook(inst, "s1", "m-1", "hello", now)
	forged := genesys.Sign("not-the-secret", body)
	cases := []struct {
		name      string
		body      []byte
		signature string
		verdict   string
	}{
		{"forged", body, forged, store.VerdictMismatch},
		{"missing", body, "", store.VerdictMissing},
		{"hex instead of base64", body, "sha256=" + strings.Repeat("ab", 32), store.VerdictMismatch},
	}
	for _, c := range cases {
		if status := inst.postWebhook(c.body, c.signature); status != http.StatusUnauthorized {
			t.Errorf("%s signature: %d, want 401", c.name, status)
		}
	}
	if status := inst.postWebhook([]byte(`{"not":"an envelope"}`), good); status != http.StatusBadRequest {
		t.Errorf("wrong shape: %d, want 400", status)
	}
	if status := inst.postWebhook([]byte(`not json`), good); status != http.StatusBadRequest {
		t.Errorf("not JSON: %d, want 400", status)
	}
	var verdicts []string
	inst.srv.Store.ForEachWebhook(context.Background(), func(w store.Webhook) { verdicts = append(verdicts, w.Verdict+"/"+fmt.Sprint(w.Status)) })
	got := strings.Join(verdicts, " ")
	for _, want := range []string{"mismatch/401", "missing/401", "malformed/400"} {
		if !strings.Contains(got, want) {
			t.Errorf("webhook log %q lacks %s", got, want)
		}
	}
	msgs, _ := inst.srv.Store.ConversationMessages(context.Background(), 1)
	for _, m := range msgs {
		if m.Direction == store.FromAgent {
			t.Fatalf("a rejected webhook reached the user: %+v", m)
		}
	}
}

func TestADuplicateWebhookIsProcessedOnce(t *testing.T) {
	storetest.RunDialects(t, testADuplicateWebhookIsProcessedOnce)
}

func testADuplicateWebhookIsProcessedOnce(t *testing.T, dialect store.Dialect) {
	g := startSandbox(t, nil)
	d := newDeploymentOn(t, g, dialect)
	inst := d.start()
	events := inst.events(d.endpoint.URLToken, "s1", "")
	inst.post("/"+d.endpoint.URLToken+"/handover", handoverBody("s1"))
	d.sandboxConversation(inst, "s1")
	body, sig := d.signedWebhook(inst, "s1", "dup-1", "only once", time.Now())
	for range 3 {
		if status := inst.postWebhook(body, sig); status != http.StatusOK {
			t.Fatalf("valid webhook: %d", status)
		}
	}
	if ev := next(t, events, "message"); ev.Data["text"] != "only once" {
		t.Fatalf("got %v", ev.Data)
	}
	// A later agent message: one customer's webhooks are processed in the
	// order received, so once it reaches the user, anything the copies
	// above caused has happened, and would be the event before it.
	later, laterSig := d.signedWebhook(inst, "s1", "after-dup", "the next one", time.Now())
	if status := inst.postWebhook(later, laterSig); status != http.StatusOK {
		t.Fatalf("later webhook: %d", status)
	}
	if ev := next(t, events, "message"); ev.Data["text"] != "the next one" {
		t.Fatalf("after the copies got %v, want the later message", ev.Data)
	}
	msgs, _ := inst.srv.Store.ConversationMessages(context.Background(), 1)
	count := 0
	for _, m := range msgs {
		if m.Text == "only once" {
			count++
		}
	}
	var outcomes []string
	inst.srv.Store.ForEachWebhook(context.Background(), func(w store.Webhook) {
		if w.GenesysMessageID == "dup-1" {
			outcomes = append(outcomes, w.Outcome)
		}
	})
	if count != 1 || strings.Join(outcomes, ",") != "delivered,duplicate,duplicate" {
		t.Fatalf("stored %d times; webhook log outcomes %v", count, outcomes)
	}
}

func TestGenesysOutagesAndRateLimitsLoseNothing(t *testing.T) {
	storetest.RunDialects(t, testGenesysOutagesAndRateLimitsLoseNothing)
}

func testGenesysOutagesAndRateLimitsLoseNothing(t *testing.T, dialect store.Dialect) {
	g := startSandbox(t, nil)
	d := newDeploymentOn(t, g, dialect)
	inst := d.start()
	token := d.endpoint.URLToken
	inst.post("/"+token+"/handover", handoverBody("s1"))
	conv := d.sandboxConversation(inst, "s1")

	g.SetFault(sandbox.Fault{Status: http.StatusServiceUnavailable, PathContains: "/inbound/"})
	for i := 1; i <= 5; i++ {
		if status, _ := inst.post("/"+token, map[string]any{"userId": "u", "sessionId": "s1", "text": fmt.Sprintf("during outage %d", i)}); status != http.StatusAccepted {
			t.Fatalf("accepting during an outage: %d", status)
		}
	}
	testkit.WaitFor(t, 5*time.Second, "retries against the outage", func() bool {
		calls, _ := inst.srv.Store.APICallsOf(context.Background(), 1)
		failed := 0
		for _, c := range calls {
			if c.Status == http.StatusServiceUnavailable {
				failed++
			}
		}
		return failed >= 3
	})
	g.ClearFaults()
	g.SetFault(sandbox.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second, Count: 1, PathContains: "/inbound/"})
	testkit.WaitFor(t, 10*time.Second, "the backlog to drain", func() bool {
		c, _ := g.Conversation(conv.ID)
		return len(customerTexts(c)) == 6
	})
	c, _ := g.Conversation(conv.ID)
	if got := strings.Join(customerTexts(c)[1:], "|"); got != "during outage 1|during outage 2|during outage 3|during outage 4|during outage 5" {
		t.Fatalf("after the outage Genesys has %q", got)
	}
	testkit.WaitFor(t, 5*time.Second, "an empty outbox", func() bool {
		backlog, _, err := inst.srv.Store.OutboxBacklog(context.Background())
		return err == nil && backlog == 0
	})
}

func TestARestartWithAFullOutboxDeliversEverythingExactlyOnce(t *testing.T) {
	storetest.RunDialects(t, testARestartWithAFullOutboxDeliversEverythingExactlyOnce)
}

func testARestartWithAFullOutboxDeliversEverythingExactlyOnce(t *testing.T, dialect store.Dialect) {
	g := startSandbox(t, nil)
	d := newDeploymentOn(t, g, dialect)
	inst := d.start()
	token := d.endpoint.URLToken
	inst.post("/"+token+"/handover", handoverBody("s1"))
	conv := d.sandboxConversation(inst, "s1")

	g.SetFault(sandbox.Fault{Status: http.StatusBadGateway, PathContains: "/inbound/"})
	for i := 1; i <= 10; i++ {
		inst.post("/"+token, map[string]any{"userId": "u", "sessionId": "s1", "text": fmt.Sprintf("m%02d", i)})
	}
	testkit.WaitFor(t, 5*time.Second, "failed attempts against the outage", func() bool {
		calls, _ := inst.srv.Store.APICallsOf(context.Background(), 1)
		return len(calls) > 3
	})
	backlog, _, err := inst.srv.Store.OutboxBacklog(context.Background())
	if err != nil || backlog != 10 {
		t.Fatalf("outbox before the restart: %d, %v; want all 10 messages waiting", backlog, err)
	}
	inst.stopOrFail()
	g.ClearFaults()

	restarted := d.start()
	testkit.WaitFor(t, 10*time.Second, "delivery after the restart", func() bool {
		c, _ := g.Conversation(conv.ID)
		return len(customerTexts(c)) >= 11
	})
	// One more message: the outbox sends a conversation's calls in order,
	// so once it is at Genesys, any of the ten sent twice has shown.
	if status, _ := restarted.post("/"+token, map[string]any{"userId": "u", "sessionId": "s1", "text": "after the backlog"}); status != http.StatusAccepted {
		t.Fatalf("message after the restart: %d", status)
	}
	testkit.WaitFor(t, 10*time.Second, "the message after the backlog at Genesys", func() bool {
		c, _ := g.Conversation(conv.ID)
		return slices.Contains(customerTexts(c), "after the backlog")
	})
	c, _ := g.Conversation(conv.ID)
	want := []string{}
	for i := 1; i <= 10; i++ {
		want = append(want, fmt.Sprintf("m%02d", i))
	}
	want = append(want, "after the backlog")
	if got := strings.Join(customerTexts(c)[1:], ","); got != strings.Join(want, ",") {
		t.Fatalf("Genesys has %q, want each once in order", got)
	}
	assertNothingSentTwice(t, g)
	// The last message is at Genesys; the relay marks it sent once
	// Genesys's answer is back.
	testkit.WaitFor(t, 5*time.Second, "an empty outbox after the restart", func() bool {
		backlog, _, err := restarted.srv.Store.OutboxBacklog(context.Background())
		return err == nil && backlog == 0
	})
}

// assertNothingSentTwice fails when the relay sent any message to Genesys
// more than once (the sandbox would hide it from the transcript, as it
// answers a repeated channel.messageId from the first; it records it).
func assertNothingSentTwice(t *testing.T, g *genesysFake) {
	t.Helper()
	for _, rec := range g.Inbound() {
		if rec.Duplicate {
			t.Fatalf("sent twice: %s", rec.Body)
		}
	}
}

func TestTwoHundredConcurrentSessionsLoseAndDoubleNothing(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	inst := d.start()
	token := d.endpoint.URLToken
	const sessions, perSide = 200, 3

	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	streams := make([]<-chan sseEvent, sessions)
	for i := range sessions {
		streams[i] = inst.events(token, fmt.Sprintf("s%03d", i), "")
	}
	for i := range sessions {
		wg.Go(func() {
			sid := fmt.Sprintf("s%03d", i)
			if status, out := inst.post("/"+token+"/handover", map[string]any{"userId": "u" + sid, "sessionId": sid}); status != http.StatusAccepted {
				errs <- fmt.Errorf("%s handover: %d %v", sid, status, out)
				return
			}
			for j := 1; j <= perSide; j++ {
				if status, out := inst.post("/"+token, map[string]any{"userId": "u" + sid, "sessionId": sid, "text": fmt.Sprintf("%s user %d", sid, j)}); status != http.StatusAccepted {
					errs <- fmt.Errorf("%s message: %d %v", sid, status, out)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Agents answer every session.
	for i := range sessions {
		sid := fmt.Sprintf("s%03d", i)
		conv := d.sandboxConversation(inst, sid)
		wg.Go(func() {
			if err := g.Accept(conv.ID, "Agent "+sid); err != nil {
				t.Error(err)
			}
			for j := 1; j <= perSide; j++ {
				if _, err := g.AgentSend(conv.ID, fmt.Sprintf("%s agent %d", sid, j), ""); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	for i := range sessions {
		sid := fmt.Sprintf("s%03d", i)
		for j := 1; j <= perSide; j++ {
			if ev := next(t, streams[i], "message"); ev.Data["text"] != fmt.Sprintf("%s agent %d", sid, j) {
				t.Fatalf("%s: agent message %d arrived as %v", sid, j, ev.Data["text"])
			}
		}
	}
	testkit.WaitFor(t, 20*time.Second, "every user message at Genesys", func() bool {
		total := 0
		for _, c := range g.Conversations() {
			total += len(customerTexts(c))
		}
		return total >= sessions*(perSide+1)
	})
	// A last message per session: the outbox sends a conversation's calls
	// in order, so once these are at Genesys, any earlier one sent twice
	// has shown.
	errs = make(chan error, sessions)
	for i := range sessions {
		wg.Go(func() {
			sid := fmt.Sprintf("s%03d", i)
			if status, out := inst.post("/"+token, map[string]any{"userId": "u" + sid, "sessionId": sid, "text": sid + " last"}); status != http.StatusAccepted {
				errs <- fmt.Errorf("%s last message: %d %v", sid, status, out)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 20*time.Second, "every session's last message at Genesys", func() bool {
		last := 0
		for _, c := range g.Conversations() {
			if texts := customerTexts(c); len(texts) > 0 && strings.HasSuffix(texts[len(texts)-1], " last") {
				last++
			}
		}
		return last == sessions
	})
	for i := range sessions {
		sid := fmt.Sprintf("s%03d", i)
		c := d.sandboxConversation(inst, sid)
		texts := customerTexts(c)
		want := []string{"The user asked to talk to an agent."}
		for j := 1; j <= perSide; j++ {
			want = append(want, fmt.Sprintf("%s user %d", sid, j))
		}
		want = append(want, sid+" last")
		if strings.Join(texts, "|") != strings.Join(want, "|") {
			t.Fatalf("%s at Genesys: %q", sid, texts)
		}
	}
	assertNothingSentTwice(t, g)
}
