package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store"
)

const consoleIntegration = "8a2b4c6d-1e3f-4a5b-8c7d-9e0f1a2b3c4d"

// consoleEndpoint creates an endpoint whose webhooks the relay accepts.
func (a *testApp) consoleEndpoint(name string) store.Endpoint {
	a.t.Helper()
	ctx := context.Background()
	e := store.Endpoint{OrganisationID: 1, Name: name, URLToken: "token-" + name, Provider: store.ProviderGenesysCloudOM, WebhookSecret: webhookSecret}
	if err := a.store.CreateEndpoint(ctx, &e); err != nil {
		a.t.Fatal(err)
	}
	if err := a.store.SetEndpointIntegration(ctx, e.ID, consoleIntegration+"-"+name, ""); err != nil {
		a.t.Fatal(err)
	}
	e.IntegrationID = consoleIntegration + "-" + name
	return e
}

func (a *testApp) conversation(c store.Conversation) store.Conversation {
	a.t.Helper()
	if c.CustomerID == "" {
		c.CustomerID = "customer-" + c.SessionID
	}
	if c.UserID == "" {
		c.UserID = "user-" + c.SessionID
	}
	if c.State == "" {
		c.State = store.StateQueued
	}
	if c.State == store.StateEnded || c.State == store.StateFailed {
		at := c.CreatedAt
		if at.IsZero() {
			at = time.Now()
		}
		c.EndedAt = &at
	}
	if err := a.store.CreateConversation(context.Background(), &c); err != nil {
		a.t.Fatal(err)
	}
	return c
}

func (a *testApp) message(m store.Message) store.Message {
	a.t.Helper()
	if err := a.store.InsertMessage(context.Background(), &m); err != nil {
		a.t.Fatal(err)
	}
	return m
}

// agentWebhook sends a signed agent message for the conversation through the
// relay's receiver, as Genesys would; the relay is not run, so it stays unprocessed.
func (a *testApp) agentWebhook(e store.Endpoint, conv store.Conversation, messageID, text string) store.Webhook {
	a.t.Helper()
	body := fmt.Appendf(nil, `{"id":%q,"channel":{"id":%q,"platform":"Open","type":"Private","messageId":%q,"to":{"id":%q},"from":{"nickname":"Max Agent","id":"a1","idType":"Opaque"},"time":%q},"type":"Text","text":%q,"direction":"Outbound"}`,
		messageID, e.IntegrationID, messageID, conv.CustomerID, time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), text)
	res, err := a.relay.ReceiveWebhook(context.Background(), relay.IncomingWebhook{Body: body, Signature: genesys.Sign(webhookSecret, body),
		Headers: map[string]string{genesys.SignatureHeader: genesys.Sign(webhookSecret, body), "Content-Type": "application/json", "Authorization": "Bearer hidden"}, ReceivedAt: time.Now()})
	if err != nil {
		a.t.Fatal(err)
	}
	w, err := a.store.WebhookByID(context.Background(), res.LogID)
	if err != nil {
		a.t.Fatal(err)
	}
	return w
}

// htmx requests the page as htmx does: a fragment, and with target the part of it.
func (a *testApp) htmx(path, target string) *http.Response {
	a.t.Helper()
	h := map[string]string{"HX-Request": "true"}
	if target != "" {
		h["HX-Target"] = target
	}
	return a.request(http.MethodGet, path, nil, h)
}

func rowIDs(doc *goquery.Document, testid string) []string {
	var out []string
	doc.Find(`[data-testid="` + testid + `"]`).Each(func(_ int, s *goquery.Selection) {
		out = append(out, s.AttrOr("data-id", ""))
	})
	return out
}

func TestConversationListIsAPageAFragmentOrJustTheList(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	e := a.consoleEndpoint("bot")
	conv := a.conversation(store.Conversation{EndpointID: e.ID, SessionID: "s1"})
	a.message(store.Message{ConversationID: conv.ID, EndpointID: e.ID, SessionID: "s1", Direction: store.FromUser, Kind: store.KindText, Text: "I need\na human"})

	resp := a.get("/conversations")
	if !strings.Contains(resp.Header.Get("Vary"), "HX-Request") {
		t.Fatalf("Vary = %q, want HX-Request", resp.Header.Get("Vary"))
	}
	doc := a.document(resp, http.StatusOK)
	if doc.Find(`[data-testid="app-header"]`).Length() != 1 || doc.Find(`[data-testid="conversations-page"]`).Length() != 1 {
		t.Fatal("a plain request did not get the whole page in the layout")
	}
	live := doc.Find(`[data-testid="conversations-live"]`)
	if live.AttrOr("hx-ext", "") != "sse" || live.AttrOr("sse-connect", "") != "/console/events?topics=conversations" {
		t.Fatalf("the list is not connected to the conversations events: %v", live.Nodes)
	}
	list := live.Find(`[data-testid="conversation-list"]`)
	if list.AttrOr("hx-trigger", "") != "sse:conversations" || list.AttrOr("hx-get", "") != "/conversations" || list.AttrOr("hx-target", "") != "#conversation-list" || list.AttrOr("id", "") != "conversation-list" {
		t.Fatalf("the list does not refetch itself on sse:conversations: %v", list.Nodes[0].Attr)
	}
	row := doc.Find(`[data-testid="conversation-row"]`)
	if row.Length() != 1 || row.Find(`[data-testid="last-message"]`).Text() != "I need a human" || row.Find(`[data-testid="session-id"]`).Text() != "s1" {
		t.Fatalf("row = %q", row.Text())
	}
	if href := row.Find(`[data-testid="conversation-link"]`).AttrOr("href", ""); href != fmt.Sprintf("/conversations/%d", conv.ID) {
		t.Fatalf("conversation link %q", href)
	}

	doc = a.document(a.htmx("/conversations", ""), http.StatusOK)
	if doc.Find(`[data-testid="app-header"]`).Length() != 0 || doc.Find(`[data-testid="conversations-page"]`).Length() != 1 {
		t.Fatal("an htmx request did not get the page content without the layout")
	}
	doc = a.document(a.htmx("/conversations?state=queued", "conversation-list"), http.StatusOK)
	if doc.Find(`[data-testid="conversations-page"]`).Length() != 0 || doc.Find(`[data-testid="conversation-list"]`).Length() != 1 ||
		doc.Find(`[data-testid="conversation-row"]`).Length() != 1 {
		t.Fatal("the live refresh did not get just the list")
	}
	if got := doc.Find(`[data-testid="conversation-list"]`).AttrOr("hx-get", ""); got != "/conversations?state=queued" {
		t.Fatalf("the refreshed list refetches %q, want its filters kept", got)
	}
	// A boosted navigation gets the layout.
	resp = a.request(http.MethodGet, "/conversations", nil, map[string]string{"HX-Request": "true", "HX-Boosted": "true"})
	if a.document(resp, http.StatusOK).Find(`[data-testid="app-header"]`).Length() != 1 {
		t.Fatal("a boosted request did not get the layout")
	}
}

func TestConversationListFiltersAndSearch(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	a1, b := a.consoleEndpoint("a"), a.consoleEndpoint("b")
	now := time.Now().UTC()
	old := a.conversation(store.Conversation{EndpointID: a1.ID, SessionID: "old", State: store.StateEnded, EndReason: store.ReasonAgentEnded, CreatedAt: now.Add(-72 * time.Hour)})
	queued := a.conversation(store.Conversation{EndpointID: a1.ID, SessionID: "queued", UserID: "alice", CreatedAt: now.Add(-time.Hour)})
	joined := a.conversation(store.Conversation{EndpointID: b.ID, SessionID: "joined", UserID: "bob", State: store.StateAgentJoined, AgentName: "Ann", GenesysConversationID: "g-42", CreatedAt: now.Add(-time.Minute)})

	tests := []struct {
		query string
		want  []store.Conversation
	}{
		{"", []store.Conversation{joined, queued, old}},
		{"?state=ended", []store.Conversation{old}},
		{"?state=agent_joined&since=24h", []store.Conversation{joined}},
		{"?since=24h", []store.Conversation{joined, queued}},
		{"?since=7d", []store.Conversation{joined, queued, old}},
		{fmt.Sprintf("?endpoint=%d", a1.ID), []store.Conversation{queued, old}},
		{"?q=alice", []store.Conversation{queued}},
		{"?q=g-42", []store.Conversation{joined}},
		{"?q=joined", []store.Conversation{joined}},
		{"?q=nobody", nil},
		{"?from=" + now.AddDate(0, 0, -2).Format("2006-01-02"), []store.Conversation{joined, queued}},
		{"?to=" + now.AddDate(0, 0, -3).Format("2006-01-02"), []store.Conversation{old}},
		{"?state=bogus&since=forever", []store.Conversation{joined, queued, old}}, // what does not parse is left out
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			doc := a.document(a.get("/conversations"+tt.query), http.StatusOK)
			var want []string
			for _, c := range tt.want {
				want = append(want, fmt.Sprint(c.ID))
			}
			if got := rowIDs(doc, "conversation-row"); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("rows %v, want %v", got, want)
			}
			if len(tt.want) == 0 && doc.Find(`[data-testid="no-conversations"]`).Length() != 1 {
				t.Fatal("an empty result does not say so")
			}
		})
	}

	doc := a.document(a.get("/conversations?state=ended&since=24h"), http.StatusOK)
	if v, _ := doc.Find(`select[name="state"] option[selected]`).Attr("value"); v != "ended" {
		t.Fatalf("the state filter is not kept in the form: %q", v)
	}
	if v, _ := doc.Find(`select[name="since"] option[selected]`).Attr("value"); v != "24h" {
		t.Fatalf("the period is not kept in the form: %q", v)
	}
	doc = a.document(a.get("/conversations"), http.StatusOK)
	row := doc.Find(fmt.Sprintf(`[data-testid="conversation-row"][data-id="%d"]`, old.ID))
	if row.Find(`[data-testid="state"]`).Text() != "ended" || row.Find(`[data-testid="end-reason"]`).Text() != "the agent ended it" {
		t.Fatalf("ended row shows %q / %q", row.Find(`[data-testid="state"]`).Text(), row.Find(`[data-testid="end-reason"]`).Text())
	}
	row = doc.Find(fmt.Sprintf(`[data-testid="conversation-row"][data-id="%d"]`, joined.ID))
	if row.Find(`[data-testid="genesys-id"]`).Text() != "g-42" || !strings.Contains(row.Text(), "Ann") || !strings.Contains(row.Text(), "b") {
		t.Fatalf("joined row = %q", row.Text())
	}
}

func TestConversationListPagesWithABeforeCursor(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	e := a.consoleEndpoint("bot")
	var convs []store.Conversation
	for i := range 60 {
		convs = append(convs, a.conversation(store.Conversation{EndpointID: e.ID, SessionID: fmt.Sprintf("s%02d", i), State: store.StateEnded}))
	}
	doc := a.document(a.get("/conversations?state=ended"), http.StatusOK)
	rows := rowIDs(doc, "conversation-row")
	if len(rows) != 50 || rows[0] != fmt.Sprint(convs[59].ID) || rows[49] != fmt.Sprint(convs[10].ID) {
		t.Fatalf("first page %d rows from %v", len(rows), rows[:1])
	}
	if doc.Find(`[data-testid="page-newest"]`).Length() != 0 {
		t.Fatal("the first page links to the newest page")
	}
	older, _ := doc.Find(`[data-testid="page-older"]`).Attr("href")
	u, err := url.Parse(older)
	if err != nil || u.Path != "/conversations" || u.Query().Get("before") != fmt.Sprint(convs[10].ID) || u.Query().Get("state") != "ended" || u.Query().Has("offset") {
		t.Fatalf("older page link %q; want before=<last id shown> with the filters", older)
	}
	doc = a.document(a.get(older), http.StatusOK)
	rows = rowIDs(doc, "conversation-row")
	if len(rows) != 10 || rows[0] != fmt.Sprint(convs[9].ID) || rows[9] != fmt.Sprint(convs[0].ID) {
		t.Fatalf("second page = %v", rows)
	}
	if doc.Find(`[data-testid="page-older"]`).Length() != 0 {
		t.Fatal("the last page links to an older page")
	}
	if newest, _ := doc.Find(`[data-testid="page-newest"]`).Attr("href"); newest != "/conversations?state=ended" {
		t.Fatalf("newest link %q", newest)
	}
	if got := doc.Find(`[data-testid="conversation-list"]`).AttrOr("hx-get", ""); !strings.Contains(got, "before="+fmt.Sprint(convs[10].ID)) {
		t.Fatalf("the second page refreshes %q, not itself", got)
	}
}

func TestCopilotLinksCarryTheSessionQueryEscaped(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	e := a.consoleEndpoint("bot")
	conv := a.conversation(store.Conversation{EndpointID: e.ID, SessionID: "s 1&x=y", UserID: "ann+bob@example.com"})
	doc := a.document(a.get("/conversations"), http.StatusOK)
	want := "/copilot?userId=ann%2Bbob%40example.com&sessionId=s+1%26x%3Dy&URLToken=" + e.CopilotToken
	if got := doc.Find(`[data-testid="conversation-row"] [data-testid="copilot-link"]`).AttrOr("href", ""); got != want {
		t.Fatalf("Copilot link %q, want %q", got, want)
	}
	doc = a.document(a.get(fmt.Sprintf("/conversations/%d", conv.ID)), http.StatusOK)
	if got := doc.Find(`[data-testid="copilot-link"]`).AttrOr("href", ""); got != want {
		t.Fatalf("Copilot link on the conversation page %q", got)
	}
	// An endpoint that wants an auth JWT: the console signs one for its link.
	e.CopilotJWTSecret = copilotSecret
	if err := a.store.UpdateEndpoint(context.Background(), &e); err != nil {
		t.Fatal(err)
	}
	doc = a.document(a.get("/conversations"), http.StatusOK)
	link := doc.Find(`[data-testid="conversation-row"] [data-testid="copilot-link"]`).AttrOr("href", "")
	if !strings.HasPrefix(link, want+"&auth=") {
		t.Fatalf("Copilot link of a JWT endpoint %q carries no auth", link)
	}
	if resp := newTestAppOn(t, a).get(link); resp.StatusCode != http.StatusOK {
		t.Fatalf("the console's Copilot link of a JWT endpoint: %d, want 200", resp.StatusCode)
	}
}

func TestConversationPageShowsOneTimelineInTimeOrder(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	e := a.consoleEndpoint("bot")
	ctx := context.Background()
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	conv := a.conversation(store.Conversation{EndpointID: e.ID, SessionID: "s1", UserID: "u1", State: store.StateEnded, EndReason: store.ReasonAgentEnded,
		Language: "german", Skills: []string{"billing", "vip"}, Priority: 7, CustomAttributes: map[string]string{"tier": "gold", "account": "42"},
		FirstName: "Jane", LastName: "Doe", Email: "jane@example.com", GenesysConversationID: "g-1", AgentName: "Max Agent", CreatedAt: t0})
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	a.message(store.Message{ConversationID: conv.ID, EndpointID: e.ID, SessionID: "s1", Direction: store.FromBot, Kind: store.KindTranscript, Text: "User: hi\nBot: hello", Delivery: store.DeliverySent, CreatedAt: at(0)})
	a.message(store.Message{ConversationID: conv.ID, EndpointID: e.ID, SessionID: "s1", Direction: store.FromSystem, Kind: store.KindState, Data: store.MessageData{State: store.StateQueued}, CreatedAt: at(0)})
	failedMsg := a.message(store.Message{ConversationID: conv.ID, EndpointID: e.ID, SessionID: "s1", Direction: store.FromUser, Kind: store.KindText, Text: "anyone?", Delivery: store.DeliveryFailed, Error: "Genesys answered 400", CreatedAt: at(30)})
	a.message(store.Message{ConversationID: conv.ID, EndpointID: e.ID, SessionID: "s1", Direction: store.FromAgent, Kind: store.KindText, Text: "Hi, Max here", Delivery: store.DeliveryDelivered, Data: store.MessageData{AgentName: "Max Agent"}, CreatedAt: at(60)})
	a.message(store.Message{ConversationID: conv.ID, EndpointID: e.ID, SessionID: "s1", Direction: store.FromSystem, Kind: store.KindState, Data: store.MessageData{State: store.StateEnded, Reason: store.ReasonAgentEnded}, CreatedAt: at(120)})
	hook := store.Webhook{ReceivedAt: at(59), EndpointID: &e.ID, ConversationID: &conv.ID, EventType: "Text", Verdict: store.VerdictValid, Status: 200, Body: "{}", Outcome: store.OutcomeDelivered}
	hook.ProcessedAt = &hook.ReceivedAt
	if _, err := a.store.InsertWebhook(ctx, &hook); err != nil {
		t.Fatal(err)
	}
	call := store.APICall{EndpointID: e.ID, ConversationID: &conv.ID, Method: "POST", Path: "/api/v2/conversations/messages/x/inbound/open/message", Status: 400, LatencyMS: 12, Attempt: 1, Error: "Genesys answered 400", CreatedAt: at(31)}
	if err := a.store.InsertAPICall(ctx, &call); err != nil {
		t.Fatal(err)
	}

	resp := a.get(fmt.Sprintf("/conversations/%d", conv.ID))
	doc := a.document(resp, http.StatusOK)
	if doc.Find(`[data-testid="app-header"]`).Length() != 1 {
		t.Fatal("no layout")
	}
	page := doc.Find(`[data-testid="conversation-page"]`)
	if page.AttrOr("sse-connect", "") != fmt.Sprintf("/console/events?topics=conversation:%d", conv.ID) {
		t.Fatalf("page listens to %q", page.AttrOr("sse-connect", ""))
	}
	detail := doc.Find(`[data-testid="conversation-detail"]`)
	if detail.AttrOr("hx-trigger", "") != fmt.Sprintf("sse:conversation-%d", conv.ID) || detail.AttrOr("hx-target", "") != "#conversation-detail" {
		t.Fatalf("detail refetches on %q into %q", detail.AttrOr("hx-trigger", ""), detail.AttrOr("hx-target", ""))
	}
	var kinds, texts []string
	doc.Find(`[data-testid="timeline-entry"]`).Each(func(_ int, s *goquery.Selection) {
		kinds = append(kinds, s.AttrOr("data-kind", ""))
		texts = append(texts, strings.TrimSpace(s.Find(`[data-testid="entry-text"]`).Text()))
	})
	wantKinds := []string{"transcript", "state", "message", "api-call", "webhook", "message", "state"}
	if fmt.Sprint(kinds) != fmt.Sprint(wantKinds) {
		t.Fatalf("timeline kinds %v, want %v (texts %q)", kinds, wantKinds, texts)
	}
	entries := doc.Find(`[data-testid="timeline-entry"]`)
	if got := entries.Eq(2).Find(`[data-testid="delivery"]`).Text(); got != "failed" || entries.Eq(2).Find(`[data-testid="entry-error"]`).Text() != failedMsg.Error {
		t.Fatalf("the failed user message shows %q / %q", got, entries.Eq(2).Find(`[data-testid="entry-error"]`).Text())
	}
	if href := entries.Eq(4).Find(`[data-testid="entry-link"]`).AttrOr("href", ""); href != fmt.Sprintf("/webhooks/%d", hook.ID) {
		t.Fatalf("webhook entry links %q", href)
	}
	if !strings.Contains(entries.Eq(3).Text(), "400") || !strings.Contains(texts[3], "POST /api/v2/") {
		t.Fatalf("API call entry = %q", entries.Eq(3).Text())
	}
	if texts[6] != "now ended: the agent ended it" {
		t.Fatalf("the end reads %q", texts[6])
	}
	if entries.Eq(5).Find(`[data-testid="delivery"]`).Text() != "delivered" {
		t.Fatal("the agent message's delivery is not shown")
	}
	attrs := doc.Find(`[data-testid="conversation-attributes"]`)
	if attrs.Find(`[data-testid="language"]`).Text() != "german" || attrs.Find(`[data-testid="skills"]`).Text() != "billing, vip" ||
		attrs.Find(`[data-testid="priority"]`).Text() != "7" || !strings.Contains(attrs.Find(`[data-testid="profile"]`).Text(), "Jane") {
		t.Fatalf("attributes = %q", attrs.Text())
	}
	if got := attrs.Find(`[data-testid="custom-attribute"]`).First().Text(); got != "account42" {
		t.Fatalf("custom attributes not sorted by name: first %q", got)
	}

	doc = a.document(a.htmx(fmt.Sprintf("/conversations/%d", conv.ID), "conversation-detail"), http.StatusOK)
	if doc.Find(`[data-testid="conversation-page"]`).Length() != 0 || doc.Find(`[data-testid="timeline-entry"]`).Length() != 7 {
		t.Fatal("the live refresh did not get just the detail")
	}
	doc = a.document(a.htmx(fmt.Sprintf("/conversations/%d", conv.ID), ""), http.StatusOK)
	if doc.Find(`[data-testid="app-header"]`).Length() != 0 || doc.Find(`[data-testid="conversation-page"]`).Length() != 1 {
		t.Fatal("an htmx request did not get the page content")
	}
}

func TestUnknownConsoleIDsAreNotFound(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	for _, path := range []string{"/conversations/999", "/conversations/abc", "/webhooks/999", "/webhooks/0"} {
		doc := a.document(a.get(path), http.StatusNotFound)
		if doc.Find(`[data-testid="error-page"]`).Length() != 1 || doc.Find(`[data-testid="app-header"]`).Length() != 1 {
			t.Fatalf("%s: no not-found page in the layout", path)
		}
	}
	if resp := a.postForm("/webhooks/999/replay", url.Values{}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("replaying an unknown webhook: %d", resp.StatusCode)
	}
}

func TestConsolePagesNeedASignedInAdmin(t *testing.T) {
	a := newTestApp(t, nil)
	for _, path := range []string{"/conversations", "/conversations/1", "/webhooks", "/webhooks/1", "/api-calls"} {
		if resp := a.get(path); resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s without signing in: %d", path, resp.StatusCode)
		}
	}
}

func TestWebhookLogListsVerdictsAndFilters(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	e := a.consoleEndpoint("bot")
	conv := a.conversation(store.Conversation{EndpointID: e.ID, SessionID: "s1"})
	valid := a.agentWebhook(e, conv, "m1", "Hello")
	body := []byte(`{"id":"m2","channel":{"id":"` + e.IntegrationID + `","to":{"id":"x"},"from":{"id":"a"},"time":"2025-01-15T10:24:05.512Z"},"type":"Text","text":"forged"}`)
	res, err := a.relay.ReceiveWebhook(context.Background(), relay.IncomingWebhook{Body: body, Signature: genesys.Sign("not-the-secret-at-all", body), ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	forged := res.LogID

	doc := a.document(a.get("/webhooks"), http.StatusOK)
	if got := rowIDs(doc, "webhook-row"); fmt.Sprint(got) != fmt.Sprint([]string{fmt.Sprint(forged), fmt.Sprint(valid.ID)}) {
		t.Fatalf("rows %v", got)
	}
	row := doc.Find(fmt.Sprintf(`[data-testid="webhook-row"][data-id="%d"]`, forged))
	if row.Find(`[data-testid="verdict"]`).Text() != "signature does not match" || row.Find(`[data-testid="status"]`).Text() != "401" ||
		!strings.Contains(row.Find(`[data-testid="verdict-detail"]`).Text(), "does not match") || row.Find(`[data-testid="outcome"]`).Text() != "rejected" {
		t.Fatalf("forged row = %q", row.Text())
	}
	row = doc.Find(fmt.Sprintf(`[data-testid="webhook-row"][data-id="%d"]`, valid.ID))
	if row.Find(`[data-testid="event-type"]`).Text() != "Text" || row.Find(`[data-testid="outcome"]`).Text() != "waiting to be processed" || !strings.Contains(row.Text(), "bot") {
		t.Fatalf("valid row = %q", row.Text())
	}
	list := doc.Find(`[data-testid="webhook-list"]`)
	if list.AttrOr("hx-trigger", "") != "sse:webhooks" || doc.Find(`[data-testid="webhooks-live"]`).AttrOr("sse-connect", "") != "/console/events?topics=webhooks" {
		t.Fatal("the webhook log is not live")
	}

	for query, want := range map[string][]int64{
		"?verdict=mismatch":               {forged},
		"?verdict=rejected&since=24h":     {forged},
		"?verdict=valid":                  {valid.ID},
		fmt.Sprintf("?endpoint=%d", e.ID): {valid.ID}, // the forged one matched no endpoint's secret
		"?since=1h":                       {forged, valid.ID},
		"?to=2001-01-01":                  nil,
	} {
		doc := a.document(a.get("/webhooks"+query), http.StatusOK)
		var wantIDs []string
		for _, id := range want {
			wantIDs = append(wantIDs, fmt.Sprint(id))
		}
		if got := rowIDs(doc, "webhook-row"); fmt.Sprint(got) != fmt.Sprint(wantIDs) {
			t.Errorf("%s: rows %v, want %v", query, got, wantIDs)
		}
	}
	doc = a.document(a.htmx("/webhooks?verdict=valid", "webhook-list"), http.StatusOK)
	if doc.Find(`[data-testid="webhooks-page"]`).Length() != 0 || len(rowIDs(doc, "webhook-row")) != 1 {
		t.Fatal("the live refresh did not get just the list")
	}
	doc = a.document(a.htmx("/webhooks", ""), http.StatusOK)
	if doc.Find(`[data-testid="app-header"]`).Length() != 0 || doc.Find(`[data-testid="webhooks-page"]`).Length() != 1 {
		t.Fatal("an htmx request did not get the page content")
	}
}

func TestWebhookDetailShowsHeadersAsStoredAndThePrettyBody(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	e := a.consoleEndpoint("bot")
	conv := a.conversation(store.Conversation{EndpointID: e.ID, SessionID: "s1"})
	w := a.agentWebhook(e, conv, "m1", "Hello")
	doc := a.document(a.get(fmt.Sprintf("/webhooks/%d", w.ID)), http.StatusOK)
	headers := map[string]string{}
	doc.Find(`[data-testid="header"]`).Each(func(_ int, s *goquery.Selection) {
		headers[s.Find("td").First().Text()] = s.Find("td").Last().Text()
	})
	if headers["Authorization"] != "••••••" || headers["Content-Type"] != "application/json" || !strings.HasPrefix(headers[genesys.SignatureHeader], "sha256=") {
		t.Fatalf("headers = %v", headers)
	}
	body := doc.Find(`[data-testid="webhook-body"]`).Text()
	if !strings.Contains(body, "\n  \"channel\": {\n") || doc.Find(`[data-testid="body-not-json"]`).Length() != 0 {
		t.Fatalf("body not pretty-printed:\n%s", body)
	}

	res, err := a.relay.ReceiveWebhook(context.Background(), relay.IncomingWebhook{Body: []byte("not json <b>"), ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	doc = a.document(a.get(fmt.Sprintf("/webhooks/%d", res.LogID)), http.StatusOK)
	if doc.Find(`[data-testid="webhook-body"]`).Text() != "not json <b>" || doc.Find(`[data-testid="body-not-json"]`).Length() != 1 {
		t.Fatal("a body that is not JSON is not shown as received")
	}
	if doc.Find(`[data-testid="verdict"]`).Text() != "not a webhook body" || doc.Find(`[data-testid="verdict-detail"]`).Text() == "" {
		t.Fatal("a malformed webhook does not say which check failed")
	}
}

func TestReplayingAProcessedWebhookShowsItAsADuplicate(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	e := a.consoleEndpoint("bot")
	conv := a.conversation(store.Conversation{EndpointID: e.ID, SessionID: "s1", State: store.StateAgentJoined})
	w := a.agentWebhook(e, conv, "m1", "Hello")
	if err := a.relay.ProcessWebhook(context.Background(), w.ID); err != nil {
		t.Fatal(err)
	}
	if resp := a.postFormRaw(fmt.Sprintf("/webhooks/%d/replay", w.ID), url.Values{}, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("replay without a CSRF token: %d, want 403", resp.StatusCode)
	}
	resp := a.postForm(fmt.Sprintf("/webhooks/%d/replay", w.ID), url.Values{})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("replay: %d: %s", resp.StatusCode, readBody(t, resp))
	}
	doc := a.document(a.get(resp.Header.Get("Location")), http.StatusOK)
	replays, _ := a.store.WebhookReplays(context.Background(), w.ID)
	if len(replays) != 1 {
		t.Fatalf("%d replays logged, want 1", len(replays))
	}
	want := fmt.Sprintf("Replayed as #%d: duplicate — already processed.", replays[0].ID)
	if got := doc.Find(`[data-testid="notice"]`).Text(); got != want {
		t.Fatalf("notice %q, want %q", got, want)
	}
	if got := doc.Find(`[data-testid="replay-outcome"]`).Text(); got != "duplicate — already processed" {
		t.Fatalf("replay listed as %q", got)
	}
	msgs, _ := a.store.ConversationMessages(context.Background(), conv.ID)
	agent := 0
	for _, m := range msgs {
		if m.Direction == store.FromAgent {
			agent++
		}
	}
	if agent != 1 {
		t.Fatalf("%d agent messages after the replay, want 1", agent)
	}
	// The replay is in the log, marked as one.
	doc = a.document(a.get("/webhooks"), http.StatusOK)
	if got := doc.Find(fmt.Sprintf(`[data-testid="webhook-row"][data-id="%d"] [data-testid="replay-of"]`, replays[0].ID)).Text(); got != fmt.Sprintf("replay of #%d", w.ID) {
		t.Fatalf("replay row says %q", got)
	}
}

func TestReplayingAnUnprocessedWebhookDeliversIt(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	e := a.consoleEndpoint("bot")
	conv := a.conversation(store.Conversation{EndpointID: e.ID, SessionID: "s1", State: store.StateAgentJoined})
	w := a.agentWebhook(e, conv, "m1", "Hello from the agent") // not processed: the relay does not run in handler tests
	resp := a.request(http.MethodPost, fmt.Sprintf("/webhooks/%d/replay", w.ID), nil, map[string]string{"HX-Request": "true", "X-CSRF-Token": a.csrf})
	if resp.StatusCode != http.StatusNoContent || !strings.HasPrefix(resp.Header.Get("HX-Redirect"), fmt.Sprintf("/webhooks/%d?replayed=", w.ID)) {
		t.Fatalf("htmx replay: %d, HX-Redirect %q", resp.StatusCode, resp.Header.Get("HX-Redirect"))
	}
	doc := a.document(a.get(resp.Header.Get("HX-Redirect")), http.StatusOK)
	if got := doc.Find(`[data-testid="notice"]`).Text(); !strings.HasSuffix(got, ": delivered.") {
		t.Fatalf("notice %q", got)
	}
	doc = a.document(a.get(fmt.Sprintf("/conversations/%d", conv.ID)), http.StatusOK)
	found := false
	doc.Find(`[data-testid="timeline-entry"][data-kind="message"]`).Each(func(_ int, s *goquery.Selection) {
		found = found || s.Find(`[data-testid="entry-text"]`).Text() == "Hello from the agent"
	})
	if !found {
		t.Fatal("the replayed agent message is not on the conversation's timeline")
	}
	if n := doc.Find(`[data-testid="timeline-entry"][data-kind="webhook"]`).Length(); n != 1 {
		t.Fatalf("%d webhooks on the timeline, want the replay", n)
	}
}

func TestAPICallLogFiltersByResult(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	e := a.consoleEndpoint("bot")
	conv := a.conversation(store.Conversation{EndpointID: e.ID, SessionID: "s1"})
	ok := store.APICall{EndpointID: e.ID, ConversationID: &conv.ID, Method: "POST", Path: "/api/v2/ok", Status: 202, LatencyMS: 80, Attempt: 1}
	failed := store.APICall{EndpointID: e.ID, ConversationID: &conv.ID, Method: "POST", Path: "/api/v2/fail", Status: 503, LatencyMS: 900, Attempt: 2, Error: "Genesys answered 503"}
	for _, c := range []*store.APICall{&ok, &failed} {
		if err := a.store.InsertAPICall(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	doc := a.document(a.get("/api-calls"), http.StatusOK)
	if doc.Find(`[data-testid="app-header"]`).Length() != 1 || fmt.Sprint(rowIDs(doc, "api-call-row")) != fmt.Sprint([]string{fmt.Sprint(failed.ID), fmt.Sprint(ok.ID)}) {
		t.Fatalf("rows %v", rowIDs(doc, "api-call-row"))
	}
	row := doc.Find(fmt.Sprintf(`[data-testid="api-call-row"][data-id="%d"]`, failed.ID))
	if row.Find(`[data-testid="status"]`).Text() != "503" || row.Find(`[data-testid="error"]`).Text() != "Genesys answered 503" ||
		row.Find(`[data-testid="conversation-link"]`).AttrOr("href", "") != fmt.Sprintf("/conversations/%d", conv.ID) {
		t.Fatalf("failed row = %q", row.Text())
	}
	if doc.Find(`[data-testid="api-call-list"]`).AttrOr("hx-trigger", "") != "sse:apicalls" {
		t.Fatal("the call log is not live")
	}
	for query, want := range map[string]int64{"?status=ok": ok.ID, "?status=failed&since=24h": failed.ID} {
		doc := a.document(a.htmx("/api-calls"+query, "api-call-list"), http.StatusOK)
		if doc.Find(`[data-testid="api-calls-page"]`).Length() != 0 || fmt.Sprint(rowIDs(doc, "api-call-row")) != fmt.Sprint([]string{fmt.Sprint(want)}) {
			t.Fatalf("%s: rows %v, want just %d", query, rowIDs(doc, "api-call-row"), want)
		}
	}
}
