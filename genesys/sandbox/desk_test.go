package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/genesys"
)

// noRedirects shows the desk's 303s instead of following them.
var noRedirects = &http.Client{
	Timeout:       5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func getPage(t *testing.T, target string) (*http.Response, *goquery.Document, string) {
	t.Helper()
	resp, err := noRedirects.Get(target)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("parse %s: %v", target, err)
	}
	return resp, doc, buf.String()
}

// submit posts the form found by testid in doc with fields, as a browser
// would post it to its action.
func submit(t *testing.T, origin string, doc *goquery.Document, testid string, fields url.Values) (*http.Response, string) {
	t.Helper()
	form := doc.Find(`form[data-testid="` + testid + `"]`)
	if form.Length() != 1 {
		t.Fatalf("no form %s on the page", testid)
	}
	action, _ := form.Attr("action")
	resp, err := noRedirects.PostForm(origin+action, fields)
	if err != nil {
		t.Fatalf("post %s: %v", testid, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp, buf.String()
}

func TestDeskListsTheQueueAndItsFormsAcceptReplyAndEnd(t *testing.T) {
	rcv := startReceiver(t)
	h := startSandbox(t, nil)
	in := h.sb.AddIntegration("bot", rcv.url, testWebhookKey)
	cid := startConversation(t, h, in.ID, "customer-1")
	_, err := h.client(t, testClientSecret).SendEvent(context.Background(), in.ID, genesys.InboundEvent{
		Channel: genesys.InboundEventChannel{From: genesys.Recipient{ID: "customer-1", IDType: genesys.IDTypeOpaque}},
		Events:  []genesys.Event{{EventType: genesys.EventTypeTyping}},
	})
	if err != nil {
		t.Fatalf("SendEvent: %v", err)
	}

	resp, doc, html := getPage(t, h.base+"/desk")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("desk: %d", resp.StatusCode)
	}
	row := doc.Find(`[data-testid="desk-conversation"]`)
	if row.Length() != 1 || row.AttrOr("data-state", "") != StateWaiting || !strings.Contains(row.Find(`[data-testid="desk-attributes"]`).Text(), "botSessionId=customer-1") {
		t.Errorf("queue row = %q", row.Text())
	}
	if list := doc.Find(`[data-testid="desk-conversations"]`); list.AttrOr("hx-trigger", "") != "every 1s" || list.AttrOr("hx-get", "") != "/desk/list" {
		t.Errorf("the list does not poll: %v", list.Nodes)
	}
	assertCSPSafe(t, doc, html)

	open := row.Find(`[data-testid="desk-open"]`).AttrOr("href", "")
	_, doc, _ = getPage(t, h.base+open)
	if doc.Find(`[data-testid="desk-customer-typing"]`).Length() != 1 {
		t.Errorf("customer typing is not shown")
	}
	if doc.Find(`[data-testid="desk-transcript"]`).AttrOr("hx-trigger", "") != "every 1s" {
		t.Errorf("the transcript does not poll")
	}
	resp, _ = submit(t, h.base, doc, "desk-accept-form", url.Values{"agent": {"Max Agent"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/desk?c="+cid {
		t.Fatalf("accept: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	_, doc, _ = getPage(t, h.base+"/desk?c="+cid)
	resp, _ = submit(t, h.base, doc, "desk-reply-form", url.Values{"text": {"Hello from the desk"}, "image_url": {""}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reply: %d", resp.StatusCode)
	}
	w, err := genesys.ParseWebhook(rcv.wait(t, 1)[0].body)
	if err != nil || w.Text != "Hello from the desk" || w.Channel.From.Nickname != "Max Agent" {
		t.Errorf("webhook %+v, %v", w, err)
	}

	_, fragment, raw := getPage(t, h.base+"/desk/conversations/"+cid+"/transcript")
	if strings.Contains(raw, "<html") {
		t.Errorf("the transcript fragment is a whole page")
	}
	var texts []string
	fragment.Find(`[data-testid="desk-message"]`).Each(func(_ int, s *goquery.Selection) {
		texts = append(texts, s.AttrOr("data-from", "")+":"+strings.TrimSpace(s.Find(`[data-testid="desk-message-text"]`).Text()))
	})
	if strings.Join(texts, "|") != "customer:I need a human|agent:Hello from the desk" {
		t.Errorf("transcript = %v", texts)
	}
	_, fragment, _ = getPage(t, h.base+"/desk/list?c="+cid)
	if fragment.Find(`[data-testid="desk-conversation"]`).AttrOr("data-state", "") != StateConnected {
		t.Errorf("the list fragment does not show the conversation connected")
	}

	for _, testid := range []string{"desk-typing-form", "desk-quick-replies-form", "desk-end-form"} {
		if doc.Find(`form[data-testid="`+testid+`"]`).Length() != 1 {
			t.Errorf("no %s while connected", testid)
		}
	}
	resp, _ = submit(t, h.base, doc, "desk-end-form", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("end: %d", resp.StatusCode)
	}
	if conv, _ := h.sb.Conversation(cid); conv.State != StateEnded {
		t.Errorf("state after End = %s", conv.State)
	}
	// The page still open in the browser posts a reply to the ended conversation.
	resp, body := submit(t, h.base, doc, "desk-reply-form", url.Values{"text": {"too late"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "desk-error") {
		t.Errorf("reply after the end: %d", resp.StatusCode)
	}
}

// assertCSPSafe checks the page needs nothing the app's CSP forbids:
// script-src 'self' and style-src 'self'.
func assertCSPSafe(t *testing.T, doc *goquery.Document, html string) {
	t.Helper()
	if doc.Find("[style]").Length() > 0 || doc.Find("style").Length() > 0 {
		t.Errorf("the page has inline styles")
	}
	doc.Find("script").Each(func(_ int, s *goquery.Selection) {
		if src, ok := s.Attr("src"); !ok || !strings.HasPrefix(src, "/static/") || strings.TrimSpace(s.Text()) != "" {
			t.Errorf("inline or foreign script: %s", html)
		}
	})
}

func TestDeskLinksCarryTheMountPrefix(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	origin := "http://" + ln.Addr().String()
	sb, err := New(Config{PublicBaseURL: origin + "/sandbox/genesys"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	sb.AddQueue(testQueueID, "Support")
	sb.AddClient(testClientID, testClientSecret)
	in := sb.AddIntegration("bot", "http://127.0.0.1:1/webhook", testWebhookKey)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	sb.Register(app.Group("/sandbox/genesys"))
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() {
		sb.Close()
		_ = app.ShutdownWithTimeout(2 * time.Second)
	})
	h := &harness{sb: sb, base: origin + "/sandbox/genesys"}
	cid := startConversation(t, h, in.ID, "customer-1")

	_, doc, _ := getPage(t, h.base+"/desk?c="+cid)
	if got := doc.Find(`form[data-testid="desk-accept-form"]`).AttrOr("action", ""); got != "/sandbox/genesys/desk/conversations/"+cid+"/accept" {
		t.Errorf("accept action = %q", got)
	}
	if got := doc.Find(`[data-testid="desk-conversations"]`).AttrOr("hx-get", ""); got != "/sandbox/genesys/desk/list?c="+cid {
		t.Errorf("list hx-get = %q", got)
	}
	resp, _ := submit(t, origin, doc, "desk-accept-form", url.Values{"agent": {"Max"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/sandbox/genesys/desk?c="+cid {
		t.Errorf("accept: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestDeskKeepsWhatWasTypedAfterTheRequestEnds(t *testing.T) {
	h := startSandbox(t, nil)
	in := h.sb.AddIntegration("bot", "http://127.0.0.1:1/webhook", testWebhookKey)
	cid := startConversation(t, h, in.ID, "customer-1")
	_, doc, _ := getPage(t, h.base+"/desk?c="+cid)
	submit(t, h.base, doc, "desk-accept-form", url.Values{"agent": {"Max Agent"}})
	_, doc, _ = getPage(t, h.base+"/desk?c="+cid)
	for _, text := range []string{"first reply", "a second reply, longer than the first"} {
		if resp, _ := submit(t, h.base, doc, "desk-reply-form", url.Values{"text": {text}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("reply %q: %d", text, resp.StatusCode)
		}
	}
	conv, _ := h.sb.Conversation(cid)
	var texts []string
	for _, m := range conv.Messages[1:] {
		texts = append(texts, m.Text)
	}
	if got := strings.Join(texts, "|"); got != "first reply|a second reply, longer than the first" {
		t.Errorf("transcript = %q", got)
	}
	if agent := conv.Participants[2]; agent.UserName != "Max Agent" || agent.Name != "Max Agent" {
		t.Errorf("agent = %q / %q", agent.UserName, agent.Name)
	}
}

// submitAsBrowser posts the form found by testid with the values a browser
// would send: its inputs' values, each select's selected (or first) option,
// with fields replacing them.
func submitAsBrowser(t *testing.T, origin string, doc *goquery.Document, testid string, fields url.Values) (*http.Response, string) {
	t.Helper()
	form := doc.Find(`form[data-testid="` + testid + `"]`)
	if form.Length() != 1 {
		t.Fatalf("no form %s on the page", testid)
	}
	values := url.Values{}
	form.Find("input[name], textarea[name]").Each(func(_ int, s *goquery.Selection) {
		values.Set(s.AttrOr("name", ""), s.AttrOr("value", s.Text()))
	})
	form.Find("select[name]").Each(func(_ int, s *goquery.Selection) {
		option := s.Find("option[selected]")
		if option.Length() == 0 {
			option = s.Find("option").First()
		}
		values.Set(s.AttrOr("name", ""), option.AttrOr("value", ""))
	})
	for k, v := range fields {
		values[k] = v
	}
	return submit(t, origin, doc, testid, values)
}

// assertAccessibleForms checks that every form says what it does, every
// button has words and every visible field has a label.
func assertAccessibleForms(t *testing.T, doc *goquery.Document) {
	t.Helper()
	doc.Find("form").Each(func(_ int, f *goquery.Selection) {
		if strings.TrimSpace(f.AttrOr("aria-label", "")) == "" {
			t.Errorf("form %s has no aria-label", f.AttrOr("data-testid", f.AttrOr("action", "")))
		}
	})
	doc.Find("button").Each(func(_ int, b *goquery.Selection) {
		if strings.TrimSpace(b.Text()) == "" {
			t.Errorf("a button has no text: %v", b.Nodes)
		}
	})
	doc.Find("input, select, textarea").Each(func(_ int, s *goquery.Selection) {
		if s.AttrOr("type", "") == "hidden" {
			return
		}
		if s.ParentsFiltered("label").Length() == 0 {
			t.Errorf("field %s has no label", s.AttrOr("name", ""))
		}
	})
}

func TestDeskPlaysFlowsOffersTransfersReceiptsWrapupAndSkew(t *testing.T) {
	const billing = "7c1d0e2f-4a3b-4c5d-9e8f-000000000002"
	rcv := startReceiver(t)
	events := startReceiver(t)
	h := startSandbox(t, nil)
	h.sb.AddQueue(billing, "Billing")
	h.sb.AddEventDestination(EventDestination{URL: events.url})
	in := h.sb.AddIntegration("Acme Support", rcv.url, testWebhookKey)
	cid := startConversation(t, h, in.ID, "customer-1")
	page := h.base + "/desk?c=" + cid
	var webhooks int
	nextWebhooks := func(n int) []genesys.Webhook {
		t.Helper()
		got := rcv.wait(t, webhooks+n)[webhooks : webhooks+n]
		webhooks += n
		out := make([]genesys.Webhook, n)
		for i, g := range got {
			out[i], _ = genesys.ParseWebhook(g.body)
		}
		return out
	}
	act := func(testid string, fields url.Values) {
		t.Helper()
		_, doc, _ := getPage(t, page)
		assertAccessibleForms(t, doc)
		resp, body := submitAsBrowser(t, h.base, doc, testid, fields)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: %d %s", testid, resp.StatusCode, body)
		}
	}

	act("desk-flow-message-form", url.Values{"text": {"You are next in line."}})
	if w := nextWebhooks(1)[0]; w.OriginatingEntity != "Bot" || w.Text != "You are next in line." || w.Channel.From.Nickname != "Acme Support" {
		t.Errorf("flow message = %+v", w)
	}
	act("desk-flow-buttons-form", nil)
	if w := nextWebhooks(1)[0]; w.Type != "Structured" || w.OriginatingEntity != "Bot" || len(w.Content) != 2 ||
		w.Content[0].QuickReply.Text != "Yes" || w.Content[1].QuickReply.Text != "No" {
		t.Errorf("flow buttons = %+v", w)
	}
	_, doc, _ := getPage(t, page)
	if got := doc.Find(`[data-testid="desk-message"][data-from="flow"]`).Length(); got != 2 {
		t.Errorf("%d flow messages in the transcript, want 2", got)
	}

	act("desk-offer-form", url.Values{"agent": {"Max Agent"}})
	_, doc, _ = getPage(t, page)
	if !strings.Contains(doc.Find(`[data-testid="desk-offered"]`).Text(), "Max Agent") {
		t.Errorf("the desk does not show the offer")
	}
	act("desk-decline-form", nil)
	act("desk-offer-form", url.Values{"agent": {"Max Agent"}})
	act("desk-offer-timeout-form", nil)
	act("desk-offer-form", url.Values{"agent": {"Ann Agent"}})
	act("desk-accept-form", nil) // accepts as the offered agent
	agents := agentsOf(t, h, cid)
	if len(agents) != 3 || agents[0].DisconnectType != "endpoint" || agents[1].DisconnectType != "transfer.noanswer" ||
		agents[2].UserName != "Ann Agent" || agents[2].State != "connected" {
		t.Errorf("agents = %+v", agents)
	}

	act("desk-transfer-agent-form", url.Values{"agent": {"Bob Agent"}})
	act("desk-accept-form", nil)
	act("desk-transfer-queue-form", nil) // Billing, the only other queue
	if conv, _ := h.sb.Conversation(cid); conv.QueueID != billing || conv.State != StateWaiting {
		t.Errorf("after the transfer to Billing: %s, %s", conv.QueueID, conv.State)
	}

	act("desk-receipts-read-form", nil)
	act("desk-receipts-failed-form", nil)
	var statuses []string
	for _, w := range nextWebhooks(5) {
		if w.Type != "Receipt" || w.Direction != "Inbound" {
			t.Errorf("receipt = %+v", w)
		}
		statuses = append(statuses, w.Status)
		if w.Status == "Failed" && (len(w.Reasons) != 1 || w.Reasons[0].Code != "MessageExpired" ||
			w.Reasons[0].Message != "Message could not be delivered in time") {
			t.Errorf("failed receipt reasons = %+v", w.Reasons)
		}
	}
	if got := strings.Join(statuses, " "); got != "Sent Delivered Read Delivered Failed" {
		t.Errorf("receipts = %s", got)
	}

	act("desk-customer-end-form", nil)
	if conv, _ := h.sb.Conversation(cid); conv.State != StateEnded {
		t.Errorf("state after the customer left = %s", conv.State)
	}
	act("desk-wrapup-form", nil) // Bob, who left last
	act("desk-wrapup-form", url.Values{"code": {"billing-question"}})
	_, doc, _ = getPage(t, page)
	if doc.Find(`form[data-testid="desk-wrapup-form"]`).Length() != 0 {
		t.Errorf("the wrap-up form is still there with no agent in after-call work")
	}
	wantEvents := "user.start user.end user.start user.end user.start " + // Max declines, Max misses, Ann answers
		"user.end user.start user.end " + // Ann transfers to Bob, Bob to Billing
		"customer.end acw acw"
	got := events.wait(t, len(strings.Fields(wantEvents)))
	var kinds []string
	for _, g := range got {
		var ev struct{ TopicName string }
		_ = json.Unmarshal(g.body, &ev)
		kinds = append(kinds, strings.TrimPrefix(ev.TopicName, DetailTopic(cid, "")))
	}
	if strings.Join(kinds, " ") != wantEvents {
		t.Errorf("events = %s\nwant     %s", strings.Join(kinds, " "), wantEvents)
	}

	act("desk-skew-form", url.Values{"skew": {"-20m0s"}})
	_, doc, _ = getPage(t, page)
	if got := doc.Find(`[data-testid="desk-skew"] option[selected]`).AttrOr("value", ""); got != "-20m0s" {
		t.Errorf("selected skew = %q", got)
	}
	_, doc, _ = getPage(t, page)
	resp, body := submit(t, h.base, doc, "desk-skew-form", url.Values{"skew": {"soon"}, "c": {cid}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "desk-error") {
		t.Errorf("a bad skew: %d", resp.StatusCode)
	}
}

func TestDeskSetsTheAgentsOnQueueZeroIncluded(t *testing.T) {
	h := startSandbox(t, nil)
	_, doc, _ := getPage(t, h.base+"/desk")
	if got := doc.Find(`[data-testid="desk-agents-on-queue"]`).AttrOr("value", ""); got != strconv.Itoa(DefaultAgentsOnQueue) {
		t.Fatalf("the desk shows %q agents On Queue, want the default %d", got, DefaultAgentsOnQueue)
	}
	resp, _ := submit(t, h.base, doc, "desk-queue-form", url.Values{"agents": {"0"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("set agents: %d", resp.StatusCode)
	}
	if f, err := h.sb.QueueFigures(testQueueID); err != nil || f.AgentsOnQueue != 0 {
		t.Fatalf("after setting 0: %+v, %v", f, err)
	}
	resp, body := submit(t, h.base, doc, "desk-queue-form", url.Values{"agents": {"-3"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "not a whole number from 0 to 1000") {
		t.Fatalf("a negative count: %d", resp.StatusCode)
	}
}
