package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/handover-relay/handover/app"
	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/genesys/sandbox"
	"github.com/handover-relay/handover/internal/testkit"
	"github.com/handover-relay/handover/store"
)

func TestRenamedParticipantDataReachesGenesys(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	inst := d.start()
	d.endpoint.AttributeNames = map[string]string{"language": "customerLanguage", "queueId": "targetQueue"}
	if err := inst.srv.Store.UpdateEndpoint(context.Background(), &d.endpoint); err != nil {
		t.Fatal(err)
	}
	inst.post("/"+d.endpoint.URLToken+"/handover", handoverBody("s1"))
	attrs := d.sandboxConversation(inst, "s1").Participants[0].Attributes
	if attrs["customerLanguage"] != "german" || attrs["targetQueue"] != e2eQueueID || attrs["myLanguage"] != "" || attrs["mySkills"] != "billing,vip" {
		t.Fatalf("participant data %v", attrs)
	}
}

func TestAttachmentsQuickRepliesAndReceiptsTravelBothWays(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	inst := d.start()
	token := d.endpoint.URLToken
	events := inst.events(token, "s1", "")
	inst.post("/"+token+"/handover", handoverBody("s1"))
	conv := d.sandboxConversation(inst, "s1")
	g.Accept(conv.ID, "Max Agent")

	// Agent → user: an image link, then quick replies.
	if _, err := g.AgentSend(conv.ID, "Here is the invoice", "https://files.example.com/invoice.png"); err != nil {
		t.Fatal(err)
	}
	ev := next(t, events, "message")
	attachments, _ := ev.Data["attachments"].([]any)
	if len(attachments) != 1 || attachments[0].(map[string]any)["url"] != "https://files.example.com/invoice.png" {
		t.Fatalf("attachment arrived as %v", ev.Data)
	}
	structuredID, err := g.AgentQuickReplies(conv.ID, "Did that help?", []string{"Yes", "No"})
	if err != nil {
		t.Fatal(err)
	}
	ev = next(t, events, "message")
	replies, _ := ev.Data["quickReplies"].([]any)
	if len(replies) != 2 || replies[0].(map[string]any)["text"] != "Yes" || ev.Data["genesysMessageId"] != structuredID {
		t.Fatalf("quick replies arrived as %v", ev.Data)
	}

	// User → agent: the click, and a file.
	status, out := inst.post("/"+token, map[string]any{"userId": "u", "sessionId": "s1", "text": "Yes",
		"data": map[string]any{"quickReply": map[string]any{"text": "Yes", "payload": "Yes", "originatingMessageId": structuredID}}})
	if status != http.StatusAccepted {
		t.Fatalf("quick reply: %d %v", status, out)
	}
	status, out = inst.post("/"+token, map[string]any{"userId": "u", "sessionId": "s1", "text": "my screenshot",
		"data": map[string]any{"attachments": []map[string]any{{"url": "https://files.example.com/shot.png", "mime": "image/png", "filename": "shot.png"}}}})
	if status != http.StatusAccepted {
		t.Fatalf("attachment: %d %v", status, out)
	}
	testkit.WaitFor(t, 5*time.Second, "the click and the file at Genesys", func() bool {
		c, _ := g.Conversation(conv.ID)
		var click, file bool
		for _, m := range c.Messages {
			click = click || (m.ButtonResponse != nil && m.ButtonResponse.Text == "Yes" && m.OriginatingMessageID == structuredID)
			file = file || (len(m.Content) == 1 && m.Content[0].Attachment != nil && m.Content[0].Attachment.URL == "https://files.example.com/shot.png")
		}
		return click && file
	})
	if rejected := g.Rejected(); len(rejected) > 0 {
		t.Fatalf("Genesys would refuse: %+v", rejected)
	}

	// Genesys's receipts for the user's messages mark them delivered.
	testkit.WaitFor(t, 10*time.Second, "user messages and the transcript marked delivered", func() bool {
		msgs, _ := inst.srv.Store.ConversationMessages(context.Background(), 1)
		for _, m := range msgs {
			// Genesys sends receipts for messages; a click is not one (the sandbox sends none for it).
			sent := (m.Direction == store.FromUser && len(m.Data.QuickReplies) == 0) || m.Kind == store.KindTranscript
			if sent && m.Delivery != store.DeliveryDelivered {
				return false
			}
		}
		return true
	})
}

func TestProcessAutomationTriggerEndsTheHandover(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	d.tune = nil
	inst := d.start()
	token := d.endpoint.URLToken
	inst.post("/"+token+"/handover", handoverBody("s1"))
	conv := d.sandboxConversation(inst, "s1")

	trigger := func(auth, body string) int {
		req, _ := http.NewRequest(http.MethodPost, inst.base+"/handover/genesysCloudOM/events", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	body := `{"topicName":"v2.detail.events.conversation.` + conv.ID + `.customer.end","eventBody":{"conversationId":"` + conv.ID + `","disconnectType":"PEER"}}`
	if status := trigger("", body); status != http.StatusUnauthorized {
		t.Fatalf("without the token: %d", status)
	}
	if status := trigger("wrong-token", body); status != http.StatusUnauthorized {
		t.Fatalf("with a wrong token: %d", status)
	}
	if status := trigger(token, `{"conversationId":"`+conv.ID+`"}`); status != http.StatusBadRequest {
		t.Fatalf("without an event: %d", status)
	}
	if status := trigger(token, body); status != http.StatusOK {
		t.Fatalf("trigger: %d", status)
	}
	c, err := inst.srv.Store.LatestConversation(context.Background(), d.endpoint.ID, "s1")
	if err != nil || c.Open() || c.EndReason != store.ReasonAgentEnded {
		t.Fatalf("after the trigger: %+v %v", c, err)
	}
}

func TestTheDefaultStartHandsOverToTheMountedSandbox(t *testing.T) {
	addr := testkit.FreeAddr(t)
	env := map[string]string{"HANDOVER_ADDR": addr, "HANDOVER_DATABASE_URL": "sqlite:" + t.TempDir() + "/h.db", "HANDOVER_ADMIN_PASSWORD": "pw-for-the-test", "HANDOVER_POLL_INTERVAL": "200ms"}
	logs, _ := startServer(t, env)
	if !strings.Contains(logs.String(), "created the Sandbox endpoint") {
		t.Fatalf("the log names no Sandbox endpoint:\n%s", logs)
	}
	// The Config URL is on the console's endpoints page, not in the log.
	client := testkit.SignedInClient(t, "http://"+addr, "admin", "pw-for-the-test")
	page := httpGetWith(t, client, "http://"+addr+"/endpoints")
	token := between(page, `data-testid="config-url">http://`+addr+`/`, `<`)
	if token == "" || strings.Contains(logs.String(), token) {
		t.Fatalf("the Sandbox endpoint's token %q: missing from the console, or in the log", token)
	}
	inst := &instance{t: t, base: "http://" + addr}
	events := inst.events(token, "demo", "")
	status, out := inst.post("/"+token, map[string]any{"userId": "u", "sessionId": "demo", "text": "I want a human please"})
	if status != http.StatusOK || out["handover"] == nil {
		t.Fatalf("asking the demo bot for a human: %d %v", status, out)
	}
	if ev := next(t, events, "state"); ev.Data["state"] != "queued" {
		t.Fatalf("state %v", ev.Data)
	}
	// The agent desk shows the conversation; accept and answer through its forms.
	var convID string
	testkit.WaitFor(t, 5*time.Second, "the conversation on the agent desk", func() bool {
		convID = between(httpGetWith(t, client, inst.base+"/sandbox/genesys/desk/list"), `/sandbox/genesys/desk?c=`, `"`)
		return convID != ""
	})
	// The desk is the console's: anonymous, it is the sign-in page; signed
	// in, its forms carry the console's CSRF token.
	if anonymous := httpGet(t, inst.base+"/sandbox/genesys/desk/list"); strings.Contains(anonymous, convID) {
		t.Fatal("the agent desk shows conversations to anyone")
	}
	if status := postFormWith(t, http.DefaultClient, inst.base+"/sandbox/genesys/desk/conversations/"+convID+"/accept", "agent=Intruder"); status < 300 || status >= 400 {
		t.Fatalf("an anonymous accept on the desk: %d, want a redirect to the sign-in", status)
	}
	csrf := between(httpGetWith(t, client, inst.base+"/sandbox/genesys/desk?c="+convID), `name="_csrf" value="`, `"`)
	if csrf == "" {
		t.Fatal("the desk's forms carry no CSRF token")
	}
	if status := postFormWith(t, client, inst.base+"/sandbox/genesys/desk/conversations/"+convID+"/accept", "agent=Forged"); status != http.StatusForbidden {
		t.Fatalf("a desk form without the CSRF token: %d, want 403", status)
	}
	// The demo endpoint's own waiting texts (system messages without an
	// origin) come when the waiting loop sends them: skip them.
	nextNotWaitingText := func(kinds ...string) sseEvent {
		for {
			ev := next(t, events, kinds...)
			if ev.Event != "message" || ev.Data["from"] != "system" || ev.Data["origin"] != nil {
				return ev
			}
		}
	}
	// The sandbox's flow greets the customer: from the system, not an agent.
	ev := nextNotWaitingText("message")
	if ev.Data["from"] != "system" || ev.Data["origin"] != "genesys_flow" || ev.Data["text"] != app.SandboxGreeting {
		t.Fatalf("the flow greeting arrived as %v", ev.Data)
	}
	if status := postFormWith(t, client, inst.base+"/sandbox/genesys/desk/conversations/"+convID+"/accept", "agent=Desk+Agent&_csrf="+csrf); status >= 400 {
		t.Fatalf("accept on the desk: %d", status)
	}
	if status := postFormWith(t, client, inst.base+"/sandbox/genesys/desk/conversations/"+convID+"/reply", "text=Hello+from+the+desk&_csrf="+csrf); status >= 400 {
		t.Fatalf("reply on the desk: %d", status)
	}
	for {
		ev := nextNotWaitingText("message", "state")
		if ev.Event == "state" && ev.Data["state"] == "agent_joined" && ev.Data["agentName"] != "Desk Agent" {
			t.Fatalf("joined as %v, want the agent's name from Genesys's participants", ev.Data)
		}
		if ev.Event == "message" {
			if ev.Data["text"] != "Hello from the desk" || ev.Data["from"] != "agent" || ev.Data["agentName"] != "Desk Agent" {
				t.Fatalf("got %v", ev.Data)
			}
			break
		}
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	return httpGetWith(t, http.DefaultClient, url)
}

// httpGetWith reads url's body with client (a signed-in one, for example).
func httpGetWith(t *testing.T, client *http.Client, url string) string {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

// postFormWith posts a form with client, following no redirect, and
// returns the status.
func postFormWith(t *testing.T, client *http.Client, url, form string) int {
	t.Helper()
	noRedirect := *client
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirect.Post(url, "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func between(s, start, end string) string {
	_, rest, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, end)
	return v
}

func TestWhenGenesysRefusesTheDisconnectTheAgentIsToldTheCustomerLeft(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	inst := d.start()
	token := d.endpoint.URLToken
	inst.post("/"+token+"/handover", handoverBody("s1"))
	conv := d.sandboxConversation(inst, "s1")
	g.Accept(conv.ID, "Max Agent")
	g.SetFault(sandbox.Fault{Status: http.StatusForbidden, PathContains: "/participants/"})
	if status, _ := inst.post("/"+token+"/sessions/s1/end", nil); status != http.StatusOK {
		t.Fatalf("end: %d", status)
	}
	testkit.WaitFor(t, 5*time.Second, "the customer-left message at Genesys", func() bool {
		c, _ := g.Conversation(conv.ID)
		texts := customerTexts(c)
		return len(texts) > 0 && texts[len(texts)-1] == "The customer has left the chat."
	})
}

func TestPollsAndNotificationCallsAreInTheGenesysCallLog(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	inst := d.start()
	inst.post("/"+d.endpoint.URLToken+"/handover", handoverBody("s1"))
	d.sandboxConversation(inst, "s1")
	testkit.WaitFor(t, 5*time.Second, "a poll of the conversation in its call log", func() bool {
		calls, _ := inst.srv.Store.APICallsOf(context.Background(), 1)
		for _, c := range calls {
			if c.Method == http.MethodGet && strings.HasPrefix(c.Path, "/api/v2/conversations/messages/") && c.Status == http.StatusOK {
				return true
			}
		}
		return false
	})
	page, err := inst.srv.Store.ListAPICalls(context.Background(), store.APICallFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range page.Rows {
		if c.Path == "/api/v2/notifications/channels" {
			return
		}
	}
	t.Fatal("the notifications channel Handover opened is not in the call log")
}

func TestUnknownWebhookTypesAndFieldsAreAcceptedLoggedAndIgnored(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	inst := d.start()
	inst.post("/"+d.endpoint.URLToken+"/handover", handoverBody("s1"))
	d.sandboxConversation(inst, "s1")
	conv, _ := inst.srv.Store.LatestConversation(context.Background(), d.endpoint.ID, "s1")
	e, _ := inst.srv.Store.EndpointByID(context.Background(), d.endpoint.ID)
	body := []byte(`{"id":"future-1","type":"Presence","futureField":{"a":[1,2]},"text":"joined",` +
		`"channel":{"id":"` + e.IntegrationID + `","to":{"id":"` + conv.CustomerID + `"},"from":{"id":"x"},"time":"` + time.Now().UTC().Format(time.RFC3339) + `","newField":true}}`)
	if status := inst.postWebhook(body, genesys.Sign(d.secret, body)); status != http.StatusOK {
		t.Fatalf("unknown type answered %d; Genesys would count that as a failed send", status)
	}
	var logged store.Webhook
	testkit.WaitFor(t, 5*time.Second, "the unknown webhook processed", func() bool {
		inst.srv.Store.ForEachWebhook(context.Background(), func(w store.Webhook) {
			if w.GenesysMessageID == "future-1" {
				logged = w
			}
		})
		return logged.ProcessedAt != nil
	})
	if logged.Verdict != store.VerdictValid || logged.EventType != "Presence" || logged.Outcome != store.OutcomeIgnored {
		t.Fatalf("logged as %s / %s / %s", logged.Verdict, logged.EventType, logged.Outcome)
	}
	msgs, _ := inst.srv.Store.ConversationMessages(context.Background(), conv.ID)
	for _, m := range msgs {
		if m.Text == "joined" {
			t.Fatal("an unknown webhook type reached the user")
		}
	}
}
