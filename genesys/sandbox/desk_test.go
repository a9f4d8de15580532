package sandbox

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/gofiber/fiber/v2"

	"handover/genesys"
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
