package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/genesys/sandbox"
	"github.com/handover-relay/handover/internal/testkit"
	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/store"
)

// Event webhooks to the bot, end to end: a real HTTP receiver on loopback
// is the endpoint's Bot Webhook URL, set through the admin API, and one
// handover driven through the sandbox sends it every kind of session event.
// Each request is checked with Svix's Standard Webhooks library, which
// shares no code with Handover's signer.

const botHookAPIKey = "hov_bot-webhooks-e2e-admin-api-key"

// botHookRequest is one request the receiver got, in the order it came.
type botHookRequest struct {
	headers http.Header
	body    []byte
	event   botHookEvent
}

// botHookEvent is the body of an event webhook as the bot reads it.
type botHookEvent struct {
	ID             string         `json:"id"`
	Type           string         `json:"type"`
	EndpointID     int64          `json:"endpointId"`
	SessionID      string         `json:"sessionId"`
	UserID         string         `json:"userId"`
	ConversationID *int64         `json:"conversationId"`
	Time           time.Time      `json:"time"`
	Data           map[string]any `json:"data"`
}

// botHookReceiver plays the bot's webhook URL: it keeps every request and
// answers 200, or fail's status while fail is set.
type botHookReceiver struct {
	t      *testing.T
	server *httptest.Server
	mu     sync.Mutex
	got    []botHookRequest
	fail   int
}

func newBotHookReceiver(t *testing.T) *botHookReceiver {
	t.Helper()
	b := &botHookReceiver{t: t}
	b.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev botHookEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("the bot got a body that is not JSON: %v: %s", err, body)
		}
		b.mu.Lock()
		b.got = append(b.got, botHookRequest{headers: r.Header.Clone(), body: body, event: ev})
		status := cmpStatus(b.fail)
		b.mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("the bot got %s with Content-Type %q, want a JSON POST", r.Method, r.Header.Get("Content-Type"))
		}
		w.WriteHeader(status)
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(b.server.Close)
	return b
}

func cmpStatus(fail int) int {
	if fail != 0 {
		return fail
	}
	return http.StatusOK
}

func (b *botHookReceiver) url() string { return b.server.URL + "/handover-events" }

func (b *botHookReceiver) setFail(status int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fail = status
}

func (b *botHookReceiver) requests() []botHookRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.got)
}

// withID are the requests whose webhook-id is id.
func (b *botHookReceiver) withID(id string) []botHookRequest {
	var out []botHookRequest
	for _, r := range b.requests() {
		if r.headers.Get("webhook-id") == id {
			out = append(out, r)
		}
	}
	return out
}

// sessionEvents are the events of one session the bot got, in order.
func (b *botHookReceiver) sessionEvents(sessionID string) []botHookRequest {
	var out []botHookRequest
	for _, r := range b.requests() {
		if r.event.SessionID == sessionID && r.event.Type != "test" {
			out = append(out, r)
		}
	}
	return out
}

// verifyAll checks every request the bot got with Svix's verifier, and that
// a wrong secret does not verify them (so the check can fail).
func (b *botHookReceiver) verifyAll(whsec string) {
	b.t.Helper()
	wh, err := svix.NewWebhook(whsec)
	if err != nil {
		b.t.Fatalf("svix refuses the signing secret: %v", err)
	}
	other, err := svix.NewWebhook(secret.NewWebhookSecret())
	if err != nil {
		b.t.Fatal(err)
	}
	got := b.requests()
	if len(got) == 0 {
		b.t.Fatal("the bot got nothing to verify")
	}
	for i, r := range got {
		if err := wh.Verify(r.body, r.headers); err != nil {
			b.t.Errorf("request %d (%s %s) does not verify: %v", i, r.event.Type, r.event.ID, err)
		}
		if err := other.Verify(r.body, r.headers); err == nil {
			b.t.Errorf("request %d verifies with a secret Handover never had", i)
		}
		if id := r.headers.Get("webhook-id"); id == "" || id != r.event.ID || !strings.HasPrefix(id, "evt_") {
			b.t.Errorf("request %d: webhook-id %q, body id %q", i, id, r.event.ID)
		}
		if sig := r.headers.Get("webhook-signature"); !strings.HasPrefix(sig, "v1,") {
			b.t.Errorf("request %d: webhook-signature %q", i, sig)
		}
	}
}

// adminCall sends a JSON admin API request with key (none when "") and
// answers the status and the raw body.
func (i *instance) adminCall(method, path, key string, body any) (int, []byte) {
	i.t.Helper()
	var reader io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		reader = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, i.base+path, reader)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		i.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// adminJSON is adminCall with the API key, wanting status and decoding into out.
func (i *instance) adminJSON(method, path string, body any, want int, out any) []byte {
	i.t.Helper()
	status, raw := i.adminCall(method, path, botHookAPIKey, body)
	if status != want {
		i.t.Fatalf("%s %s: %d %s, want %d", method, path, status, raw, want)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			i.t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return raw
}

// botDeliveryListJSON is a page of GET /api/v1/admin/bot-deliveries.
type botDeliveryListJSON struct {
	BotDeliveries []struct {
		ID             int64  `json:"id"`
		EndpointID     int64  `json:"endpointId"`
		ConversationID *int64 `json:"conversationId"`
		SessionID      string `json:"sessionId"`
		EventID        string `json:"eventId"`
		Type           string `json:"type"`
		Status         string `json:"status"`
		Attempts       int    `json:"attempts"`
		ResponseStatus int    `json:"responseStatus"`
		URL            string `json:"url"`
	} `json:"botDeliveries"`
	NextBefore int64  `json:"nextBefore"`
	Next       string `json:"next"`
}

// botDeliveryJSONOne is GET /api/v1/admin/bot-deliveries/:id and the replay's answer.
type botDeliveryJSONOne struct {
	ID             int64           `json:"id"`
	EventID        string          `json:"eventId"`
	Type           string          `json:"type"`
	Status         string          `json:"status"`
	Attempts       int             `json:"attempts"`
	ResponseStatus int             `json:"responseStatus"`
	Error          string          `json:"error"`
	Event          json.RawMessage `json:"event"`
}

// sseRecorder keeps every event of a session's stream in order.
type sseRecorder struct {
	t      *testing.T
	events <-chan sseEvent
	got    []sseEvent
}

// until reads the stream, keeping everything, up to the first event of kind
// for which match holds, and answers it.
func (s *sseRecorder) until(kind string, match func(sseEvent) bool) sseEvent {
	s.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				s.t.Fatalf("event stream closed while waiting for %s", kind)
			}
			s.got = append(s.got, ev)
			if ev.Event == kind && (match == nil || match(ev)) {
				return ev
			}
		case <-timeout:
			s.t.Fatalf("no matching %s event on the stream within 20 s; got %d events", kind, len(s.got))
		}
	}
}

func isState(state string) func(sseEvent) bool {
	return func(ev sseEvent) bool { return ev.Data["state"] == state }
}

// sameData tells whether the bot's data is the stream's, as JSON.
func sameData(a, b map[string]any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	var na, nb any
	json.Unmarshal(ja, &na)
	json.Unmarshal(jb, &nb)
	return reflect.DeepEqual(na, nb)
}

var whsecPattern = regexp.MustCompile(`^whsec_[A-Za-z0-9+/=]+$`)

func TestBotWebhookHearsEverySessionEventSignedInStreamOrderWithLogAndReplay(t *testing.T) {
	// The test sends the receipts, so that one of them can be a failure.
	g := startSandbox(t, func(c *sandbox.Config) { c.ReceiptSequence = []string{} })
	d := newDeployment(t, g)
	d.env = map[string]string{"HANDOVER_ADMIN_API_KEY": botHookAPIKey, "HANDOVER_ALLOW_PRIVATE_BOT_URLS": "true"}
	inst := d.start()
	token := d.endpoint.URLToken
	bot := newBotHookReceiver(t)
	endpointPath := fmt.Sprintf("/api/v1/admin/endpoints/%d", d.endpoint.ID)

	// The URL set through the admin API: the answer carries the signing
	// secret Handover made, this once.
	var put map[string]any
	putRaw := inst.adminJSON(http.MethodPut, endpointPath, map[string]any{
		"botWebhookUrl": bot.url(), "relayTyping": true, "ifNoAgents": "queue", "queueUpdateSeconds": 10,
	}, http.StatusOK, &put)
	whsec, _ := put["botWebhookSecret"].(string)
	if !whsecPattern.MatchString(whsec) || put["botWebhookUrl"] != bot.url() || put["botWebhookSecretSet"] != true || put["queueUpdateSeconds"] != float64(10) {
		t.Fatalf("PUT with a bot webhook URL answered %s", putRaw)
	}
	if key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(whsec, "whsec_")); err != nil || len(key) < 24 {
		t.Fatalf("the signing secret %q decodes to %d bytes (%v), want at least 24", whsec, len(key), err)
	}
	// Never again: not on GET, not in the list, not on a PUT that keeps it.
	var got map[string]any
	getRaw := inst.adminJSON(http.MethodGet, endpointPath, nil, http.StatusOK, &got)
	if _, shown := got["botWebhookSecret"]; shown || bytes.Contains(getRaw, []byte(strings.TrimPrefix(whsec, "whsec_"))) || got["botWebhookSecretSet"] != true || got["botWebhookUrl"] != bot.url() {
		t.Fatalf("GET shows the signing secret again or lost it: %s", getRaw)
	}
	if listRaw := inst.adminJSON(http.MethodGet, "/api/v1/admin/endpoints", nil, http.StatusOK, nil); bytes.Contains(listRaw, []byte(strings.TrimPrefix(whsec, "whsec_"))) {
		t.Fatal("the endpoint list shows the signing secret")
	}
	var kept map[string]any
	keptRaw := inst.adminJSON(http.MethodPut, endpointPath, map[string]any{"botWebhookUrl": bot.url()}, http.StatusOK, &kept)
	if _, shown := kept["botWebhookSecret"]; shown || bytes.Contains(keptRaw, []byte(strings.TrimPrefix(whsec, "whsec_"))) {
		t.Fatalf("a PUT that keeps the secret shows it again: %s", keptRaw)
	}

	// One handover through the sandbox, one step at a time, each seen on the
	// session's stream before the next: queued with a queue update, a user
	// message whose delivery fails, the agent joins, types, sends quick
	// replies and a text, and ends.
	stream := &sseRecorder{t: t, events: inst.events(token, "s1", "")}
	if status, out := inst.post("/"+token+"/handover", handoverBody("s1")); status != http.StatusAccepted {
		t.Fatalf("handover: %d %v", status, out)
	}
	stream.until("state", isState(store.StateQueued))
	stream.until("queue", nil)
	conv := d.sandboxConversation(inst, "s1")
	stored, err := inst.srv.Store.LatestConversation(context.Background(), d.endpoint.ID, "s1")
	if err != nil {
		t.Fatal(err)
	}

	if status, out := inst.post("/"+token, map[string]any{"userId": "user-s1", "sessionId": "s1", "text": "my card was charged twice"}); status != http.StatusAccepted {
		t.Fatalf("user message: %d %v", status, out)
	}
	var sent store.Message
	testkit.WaitFor(t, 15*time.Second, "the user's message sent to Genesys", func() bool {
		msgs, _ := inst.srv.Store.ConversationMessages(context.Background(), stored.ID)
		for _, m := range msgs {
			if m.Direction == store.FromUser && m.Kind != store.KindTranscript && m.GenesysMessageID != "" {
				sent = m
				return true
			}
		}
		return false
	})
	reasons := []genesys.Reason{{Code: genesys.ReasonMessageExpired, Message: "Message could not be delivered in time"}}
	if err := g.SendReceipt(conv.ID, sent.GenesysMessageID, genesys.ReceiptFailed, true, reasons); err != nil {
		t.Fatal(err)
	}
	stream.until("receipt", nil)

	if err := g.Accept(conv.ID, "Ada Agent"); err != nil {
		t.Fatal(err)
	}
	stream.until("state", isState(store.StateAgentJoined))
	if err := g.AgentTyping(conv.ID); err != nil {
		t.Fatal(err)
	}
	stream.until("typing", nil)
	structuredID, err := g.AgentQuickReplies(conv.ID, "Did that help?", []string{"Yes", "No"})
	if err != nil {
		t.Fatal(err)
	}
	stream.until("message", func(ev sseEvent) bool { return ev.Data["genesysMessageId"] == structuredID })
	textID, err := g.AgentSend(conv.ID, "Glad to help, goodbye.", "")
	if err != nil {
		t.Fatal(err)
	}
	stream.until("message", func(ev sseEvent) bool { return ev.Data["genesysMessageId"] == textID })
	if err := g.AgentEnd(conv.ID); err != nil {
		t.Fatal(err)
	}
	ended := stream.until("state", isState(store.StateEnded))

	// The bot hears the same events as the stream, in its order: wait for
	// the end, then compare everything up to it.
	var heard []botHookRequest
	testkit.WaitFor(t, 30*time.Second, "the end of the handover at the bot", func() bool {
		heard = bot.sessionEvents("s1")
		return slices.ContainsFunc(heard, func(r botHookRequest) bool { return r.event.Type == "state" && sameData(r.event.Data, ended.Data) })
	})
	end := slices.IndexFunc(heard, func(r botHookRequest) bool { return r.event.Type == "state" && sameData(r.event.Data, ended.Data) })
	heard = heard[:end+1]
	streamTypes, botTypes := make([]string, len(stream.got)), make([]string, len(heard))
	for i, ev := range stream.got {
		streamTypes[i] = ev.Event
	}
	for i, r := range heard {
		botTypes[i] = r.event.Type
	}
	if !slices.Equal(streamTypes, botTypes) {
		t.Fatalf("the bot heard %v, the stream carried %v", botTypes, streamTypes)
	}
	t.Logf("the bot heard, as the stream carried: %v", botTypes)
	seen := map[string]bool{}
	for i, r := range heard {
		ev := stream.got[i]
		if !sameData(r.event.Data, ev.Data) {
			t.Errorf("event %d (%s): the bot got %v, the stream %v", i, ev.Event, r.event.Data, ev.Data)
		}
		if ev.Event != "typing" && ev.ID == "" {
			t.Errorf("stream event %d (%s) has no id", i, ev.Event)
		}
		if seen[r.event.ID] {
			t.Errorf("event %d: the bot got event %s twice", i, r.event.ID)
		}
		seen[r.event.ID] = true
		e := r.event
		if e.EndpointID != d.endpoint.ID || e.SessionID != "s1" || e.UserID != "user-s1" || e.ConversationID == nil || *e.ConversationID != stored.ID || e.Time.IsZero() {
			t.Errorf("event %d (%s): envelope %+v, want endpoint %d, session s1, user user-s1, conversation %d", i, e.Type, e, d.endpoint.ID, stored.ID)
		}
	}
	for _, kind := range []string{"message", "typing", "state", "receipt", "queue"} {
		if !slices.Contains(botTypes, kind) {
			t.Errorf("the bot never got a %s event: %v", kind, botTypes)
		}
	}
	// What each kind says, as the bot reads it.
	byType := func(kind string, match func(map[string]any) bool) map[string]any {
		for _, r := range heard {
			if r.event.Type == kind && (match == nil || match(r.event.Data)) {
				return r.event.Data
			}
		}
		t.Fatalf("the bot got no such %s event", kind)
		return nil
	}
	var states []any
	for _, r := range heard {
		if r.event.Type == "state" {
			states = append(states, r.event.Data["state"])
		}
	}
	if !slices.Contains(states, any(store.StateQueued)) || !slices.Contains(states, any(store.StateAgentJoined)) || states[len(states)-1] != store.StateEnded {
		t.Errorf("state events %v", states)
	}
	if receipt := byType("receipt", nil); receipt["status"] != store.DeliveryFailed || receipt["genesysStatus"] != genesys.ReceiptFailed ||
		receipt["messageId"] != float64(sent.ID) || !strings.Contains(stringOf(receipt["reason"]), "delivered in time") {
		t.Errorf("receipt event %v; want the failure of message %d", receipt, sent.ID)
	}
	replies := byType("message", func(m map[string]any) bool { return m["genesysMessageId"] == structuredID })
	if options, _ := replies["quickReplies"].([]any); len(options) != 2 || options[0].(map[string]any)["text"] != "Yes" || replies["text"] != "Did that help?" || replies["from"] != store.FromAgent {
		t.Errorf("quick replies event %v", replies)
	}
	if text := byType("message", func(m map[string]any) bool { return m["genesysMessageId"] == textID }); text["text"] != "Glad to help, goodbye." || text["from"] != store.FromAgent {
		t.Errorf("agent text event %v", text)
	}
	if typing := byType("typing", nil); typing["from"] != store.FromAgent {
		t.Errorf("typing event %v", typing)
	}
	if queue := byType("queue", nil); queue["waitedSeconds"] == nil || queue["conversationId"] != float64(stored.ID) {
		t.Errorf("queue event %v", queue)
	}

	// The admin API lists them: refused without the key, 404 and 422 where
	// due. Test events make the log longer than a page.
	if status, _ := inst.adminCall(http.MethodGet, "/api/v1/admin/bot-deliveries", "", nil); status != http.StatusUnauthorized {
		t.Errorf("the log without an API key: %d, want 401", status)
	}
	if status, _ := inst.adminCall(http.MethodGet, "/api/v1/admin/bot-deliveries", "hov_not-the-key", nil); status != http.StatusUnauthorized {
		t.Errorf("the log with a wrong API key: %d, want 401", status)
	}
	if status, raw := inst.adminCall(http.MethodGet, "/api/v1/admin/bot-deliveries/999999", botHookAPIKey, nil); status != http.StatusNotFound {
		t.Errorf("an unknown delivery: %d %s, want 404", status, raw)
	}
	if status, raw := inst.adminCall(http.MethodGet, "/api/v1/admin/bot-deliveries?status=nonsense", botHookAPIKey, nil); status != http.StatusUnprocessableEntity || !bytes.Contains(raw, []byte("status")) {
		t.Errorf("status=nonsense: %d %s, want 422 naming the field", status, raw)
	}
	if status, raw := inst.adminCall(http.MethodPost, "/api/v1/admin/bot-deliveries/999999/replay", "", nil); status != http.StatusUnauthorized {
		t.Errorf("a replay without an API key: %d %s, want 401", status, raw)
	}
	testPath := fmt.Sprintf("/api/v1/admin/endpoints/%d/bot-test-event", d.endpoint.ID)
	for range store.DefaultPageSize {
		var test botDeliveryJSONOne
		inst.adminJSON(http.MethodPost, testPath, nil, http.StatusCreated, &test)
		if test.Type != "test" || test.Status != store.BotDeliveryDelivered || test.ResponseStatus != http.StatusOK || len(bot.withID(test.EventID)) != 1 {
			t.Fatalf("test event: %+v", test)
		}
	}
	// Every delivery the bot took so far, by event id (each got once).
	wantIDs := map[string]bool{}
	for _, r := range bot.requests() {
		if wantIDs[r.event.ID] {
			t.Fatalf("the bot got event %s (%s) twice before any replay", r.event.ID, r.event.Type)
		}
		wantIDs[r.event.ID] = true
	}
	var pages []botDeliveryListJSON
	var listed []int64
	byEventID := map[string]int64{}
	nextPath := fmt.Sprintf("/api/v1/admin/bot-deliveries?endpoint=%d", d.endpoint.ID)
	for nextPath != "" {
		if len(pages) > 10 {
			t.Fatalf("paging does not end: %v", listed)
		}
		var page botDeliveryListJSON
		inst.adminJSON(http.MethodGet, nextPath, nil, http.StatusOK, &page)
		pages = append(pages, page)
		for _, row := range page.BotDeliveries {
			listed = append(listed, row.ID)
			byEventID[row.EventID] = row.ID
			if row.EndpointID != d.endpoint.ID || row.URL != bot.url() {
				t.Errorf("row %d: endpoint %d, url %q", row.ID, row.EndpointID, row.URL)
			}
		}
		if page.Next != "" {
			want := fmt.Sprintf("/api/v1/admin/bot-deliveries?endpoint=%d&before=%d", d.endpoint.ID, page.NextBefore)
			if page.Next != want || page.NextBefore != page.BotDeliveries[len(page.BotDeliveries)-1].ID {
				t.Fatalf("next %q (nextBefore %d), want %q", page.Next, page.NextBefore, want)
			}
		}
		nextPath = page.Next
	}
	if len(pages) < 2 || len(pages[0].BotDeliveries) != store.DefaultPageSize || pages[len(pages)-1].Next != "" {
		t.Fatalf("%d pages for %d deliveries; want full pages with next, and a last one without", len(pages), len(listed))
	}
	if !slices.IsSortedFunc(listed, func(a, b int64) int { return int(b - a) }) || len(slices.Compact(slices.Clone(listed))) != len(listed) {
		t.Fatalf("the pages are not newest first without repeats: %v", listed)
	}
	if len(byEventID) != len(wantIDs) {
		t.Fatalf("the log lists %d deliveries, the bot got %d events", len(byEventID), len(wantIDs))
	}
	for id := range wantIDs {
		if byEventID[id] == 0 {
			t.Errorf("event %s the bot got is not in the log", id)
		}
	}
	// A page cut by before, and the filters.
	var tail botDeliveryListJSON
	inst.adminJSON(http.MethodGet, fmt.Sprintf("/api/v1/admin/bot-deliveries?endpoint=%d&before=%d", d.endpoint.ID, listed[len(listed)-3]), nil, http.StatusOK, &tail)
	if len(tail.BotDeliveries) != 2 || tail.BotDeliveries[0].ID != listed[len(listed)-2] || tail.BotDeliveries[1].ID != listed[len(listed)-1] || tail.Next != "" {
		t.Errorf("the page before %d: %+v", listed[len(listed)-3], tail)
	}
	// A filtered list's next page keeps its filters.
	var deliveredPage botDeliveryListJSON
	inst.adminJSON(http.MethodGet, fmt.Sprintf("/api/v1/admin/bot-deliveries?endpoint=%d&status=delivered", d.endpoint.ID), nil, http.StatusOK, &deliveredPage)
	if want := fmt.Sprintf("/api/v1/admin/bot-deliveries?endpoint=%d&status=delivered&before=%d", d.endpoint.ID, listed[store.DefaultPageSize-1]); deliveredPage.Next != want {
		t.Errorf("the delivered list's next %q, want %q", deliveredPage.Next, want)
	}
	var typing botDeliveryListJSON
	inst.adminJSON(http.MethodGet, fmt.Sprintf("/api/v1/admin/bot-deliveries?endpoint=%d&type=typing&status=delivered", d.endpoint.ID), nil, http.StatusOK, &typing)
	if len(typing.BotDeliveries) != 1 || typing.BotDeliveries[0].SessionID != "s1" || typing.BotDeliveries[0].Attempts != 1 {
		t.Errorf("typing deliveries: %+v", typing)
	}
	var failed botDeliveryListJSON
	inst.adminJSON(http.MethodGet, fmt.Sprintf("/api/v1/admin/bot-deliveries?endpoint=%d&status=failed", d.endpoint.ID), nil, http.StatusOK, &failed)
	if len(failed.BotDeliveries) != 0 {
		t.Errorf("failed deliveries though the bot took everything: %+v", failed)
	}

	// One delivery, with the very event the bot got; replayed, the bot gets
	// exactly one more request with the same webhook-id and body.
	receipt := heard[slices.IndexFunc(heard, func(r botHookRequest) bool { return r.event.Type == "receipt" })]
	deliveryID := byEventID[receipt.event.ID]
	var one botDeliveryJSONOne
	inst.adminJSON(http.MethodGet, fmt.Sprintf("/api/v1/admin/bot-deliveries/%d", deliveryID), nil, http.StatusOK, &one)
	var logged, received map[string]any
	json.Unmarshal(one.Event, &logged)
	json.Unmarshal(receipt.body, &received)
	if one.Type != "receipt" || one.Status != store.BotDeliveryDelivered || one.Attempts != 1 || !reflect.DeepEqual(logged, received) {
		t.Fatalf("delivery %d: %+v; its event %s, the bot got %s", deliveryID, one, one.Event, receipt.body)
	}
	var replayed botDeliveryJSONOne
	inst.adminJSON(http.MethodPost, fmt.Sprintf("/api/v1/admin/bot-deliveries/%d/replay", deliveryID), nil, http.StatusOK, &replayed)
	if replayed.ID != deliveryID || replayed.Status != store.BotDeliveryDelivered || replayed.Attempts != 2 || replayed.ResponseStatus != http.StatusOK || replayed.Error != "" {
		t.Fatalf("after the replay: %+v", replayed)
	}
	// The later marker: a new handover of the session, through the same
	// queue; once the bot has its queued state, nothing else of the replay came.
	stream.got = nil
	if status, out := inst.post("/"+token+"/handover", handoverBody("s1")); status != http.StatusAccepted {
		t.Fatalf("second handover: %d %v", status, out)
	}
	requeued := stream.until("state", isState(store.StateQueued))
	testkit.WaitFor(t, 30*time.Second, "the second handover's queued state at the bot", func() bool {
		return slices.ContainsFunc(bot.sessionEvents("s1"), func(r botHookRequest) bool { return r.event.Type == "state" && sameData(r.event.Data, requeued.Data) })
	})
	copies := bot.withID(receipt.event.ID)
	if len(copies) != 2 || !bytes.Equal(copies[0].body, copies[1].body) {
		t.Fatalf("after one replay the bot got event %s %d times", receipt.event.ID, len(copies))
	}
	if !slices.Equal(copies[0].headers.Values("webhook-id"), copies[1].headers.Values("webhook-id")) {
		t.Fatalf("the replay's webhook-id %v, the first %v", copies[1].headers.Values("webhook-id"), copies[0].headers.Values("webhook-id"))
	}
	for id := range wantIDs {
		if n := len(bot.withID(id)); id != receipt.event.ID && n != 1 {
			t.Errorf("event %s reached the bot %d times, want once", id, n)
		}
	}
	bot.verifyAll(whsec)
}
