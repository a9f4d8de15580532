package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/handover-relay/handover/genesys"
)

func TestTokenWithWrongSecretIsRefusedWith401(t *testing.T) {
	h := startSandbox(t, nil)
	_, err := h.client(t, "not-the-secret").GetConversation(context.Background(), "any")
	apiErr, ok := errors.AsType[*genesys.APIError](err)
	if !ok {
		t.Fatalf("err = %v, want an *APIError", err)
	}
	if apiErr.Status != http.StatusUnauthorized || apiErr.Code != "invalid_client" {
		t.Errorf("got %d %q, want 401 invalid_client", apiErr.Status, apiErr.Code)
	}
	if rejected := h.sb.Rejected(); len(rejected) == 0 || rejected[0].Status != http.StatusUnauthorized {
		t.Errorf("Rejected() = %+v, want the 401 recorded", rejected)
	}
}

func TestTokenCredentialsAreAlsoAcceptedInTheFormBody(t *testing.T) {
	h := startSandbox(t, nil)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {testClientID}, "client_secret": {testClientSecret}}
	req, _ := http.NewRequest(http.MethodPost, h.base+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body := do(t, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var tok map[string]any
	_ = json.Unmarshal(body, &tok)
	if tok["token_type"] != "bearer" || tok["expires_in"] != float64(86400) || tok["access_token"] == "" {
		t.Errorf("token answer = %s", body)
	}
}

func TestAPICallsWithoutAValidTokenGet401BadCredentials(t *testing.T) {
	h := startSandbox(t, nil)
	resp, body := h.call(t, "forged", http.MethodGet, "/api/v2/conversations/messaging/integrations/open", nil)
	var e genesys.ErrorBody
	_ = json.Unmarshal(body, &e)
	if resp.StatusCode != http.StatusUnauthorized || e.Code != "bad.credentials" {
		t.Fatalf("got %d %s, want 401 bad.credentials", resp.StatusCode, body)
	}

	token := h.token(t)
	h.sb.RevokeTokens()
	if resp, _ := h.call(t, token, http.MethodGet, "/api/v2/conversations/messaging/integrations/open", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("revoked token: status %d, want 401", resp.StatusCode)
	}
}

func TestResolveIntegrationPagesThroughThirtyIntegrations(t *testing.T) {
	h := startSandbox(t, nil)
	var last genesys.Integration
	for i := range 30 {
		last = h.sb.AddIntegration(fmt.Sprintf("deployment-%02d", i), "http://127.0.0.1:1/webhook", testWebhookKey)
	}
	got, err := h.client(t, testClientSecret).ResolveIntegration(context.Background(), "deployment-29")
	if err != nil {
		t.Fatalf("ResolveIntegration: %v", err)
	}
	if got.ID != last.ID || got.CreateStatus != "Completed" {
		t.Errorf("resolved %+v, want %+v", got, last)
	}

	token := h.token(t)
	path := "/api/v2/conversations/messaging/integrations/open"
	resp, body := h.call(t, token, http.MethodGet, path, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	// Not checked against OpenIntegrationEntityListing: that schema marks the
	// write-only webhook secret required, and Genesys never reads it back.
	var first genesys.IntegrationListing
	_ = json.Unmarshal(body, &first)
	if len(first.Entities) != 25 || first.PageCount != 2 || first.Total != 30 || first.NextURI != path+"?pageSize=25&pageNumber=2" {
		t.Errorf("default page: %d entities, pageCount %d, total %d, nextUri %q", len(first.Entities), first.PageCount, first.Total, first.NextURI)
	}
	_, body = h.call(t, token, http.MethodGet, first.NextURI, nil)
	var second genesys.IntegrationListing
	_ = json.Unmarshal(body, &second)
	if len(second.Entities) != 5 || second.PageNumber != 2 || second.NextURI != "" {
		t.Errorf("second page: %d entities, page %d, nextUri %q", len(second.Entities), second.PageNumber, second.NextURI)
	}

	resp, body = h.call(t, token, http.MethodGet, path+"/"+last.ID, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), last.ID) {
		t.Errorf("get one: %d %s", resp.StatusCode, body)
	}
	if resp, _ := h.call(t, token, http.MethodGet, path+"/no-such-id", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("get unknown: %d, want 404", resp.StatusCode)
	}
}

func TestFirstMessageStartsAConversationWithTheCustomAttributesAsParticipantData(t *testing.T) {
	h := startSandbox(t, nil)
	h.sb.AddQueue("billing-queue", "Billing")
	in := h.sb.AddIntegration("bot", "http://127.0.0.1:1/webhook", testWebhookKey)
	client := h.client(t, testClientSecret)
	attrs := map[string]string{"botSessionId": "7f3c2a10", "language": "de-DE", "queueId": "billing-queue"}

	resp, err := client.SendMessage(context.Background(), in.ID, customerMessage("customer-1", "m-1", "Hello", attrs), true)
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	if len(resp.ID) != 32 || resp.Type != "Text" || resp.Text != "Hello" || resp.Channel.ID != in.ID || resp.ConversationID == "" {
		t.Errorf("answer = %+v", resp)
	}

	conv, err := client.GetConversation(context.Background(), resp.ConversationID)
	if err != nil {
		t.Fatalf("GetConversation: %v", err)
	}
	var customer, acd *genesys.Participant
	for i, p := range conv.Participants {
		switch p.Purpose {
		case "customer":
			customer = &conv.Participants[i]
		case "acd":
			acd = &conv.Participants[i]
		}
	}
	if customer == nil || customer.State != "connected" || customer.Attributes["botSessionId"] != "7f3c2a10" || customer.Attributes["language"] != "de-DE" {
		t.Errorf("customer participant = %+v", customer)
	}
	if acd == nil || acd.Queue == nil || acd.Queue.ID != "billing-queue" || acd.State != "connected" {
		t.Errorf("acd participant = %+v, want connected on billing-queue", acd)
	}

	// A later message without prefetch joins the same conversation and
	// carries no conversationId.
	again, err := client.SendMessage(context.Background(), in.ID, customerMessage("customer-1", "m-2", "Still there?", nil), false)
	if err != nil {
		t.Fatalf("second SendMessage: %v", err)
	}
	if again.ConversationID != "" {
		t.Errorf("conversationId %q without prefetch", again.ConversationID)
	}
	got, _ := h.sb.ConversationByCustomer("customer-1")
	if got.ID != resp.ConversationID || len(got.Messages) != 2 || got.Messages[1].ChannelMessageID != "m-2" {
		t.Errorf("conversation = %+v", got)
	}
}

func TestAnswersMatchTheGenesysResponseSchemas(t *testing.T) {
	h := startSandbox(t, nil)
	in := h.sb.AddIntegration("bot", "http://127.0.0.1:1/webhook", testWebhookKey)
	token := h.token(t)
	base := "/api/v2/conversations/messages/" + in.ID + "/inbound/open/"
	now := genesys.FormatTime(time.Now())
	from := `{"id":"c-1","idType":"Opaque"}`

	tests := []struct {
		name, path, body, schema string
	}{
		{"message with an attachment", "message?prefetchConversationId=true",
			`{"channel":{"messageId":"a","from":` + from + `,"time":"` + now + `"},"text":"look","content":[{"attachment":{"mediaType":"Image","url":"https://x/y.png","mime":"image/png"}}]}`,
			"OpenMessageNormalizedMessage"},
		{"typing event", "event", `{"channel":{"from":` + from + `,"time":"` + now + `"},"events":[{"eventType":"Typing"}]}`, "OpenEventNormalizedMessage"},
		{"receipt", "receipt", `{"id":"0123456789abcdef0123456789abcdef","channel":{"to":{"id":"c-1"},"time":"` + now + `"},"status":"Delivered","isFinalReceipt":true}`, "OpenReceiptNormalizedMessage"},
		{"structured response", "structured/response",
			`{"channel":{"messageId":"b","from":` + from + `,"time":"` + now + `"},"buttonResponse":{"type":"QuickReply","text":"Yes","payload":"YES"},"originatingMessageId":"0123456789abcdef0123456789abcdef"}`,
			"OpenStructuredResponseNormalizedMessage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := h.call(t, token, http.MethodPost, base+tt.path, tt.body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if err := h.sb.spec.ValidateResponseBody(tt.schema, body); err != nil {
				t.Errorf("%s: %v\n%s", tt.schema, err, body)
			}
		})
	}

	conv, _ := h.sb.ConversationByCustomer("c-1")
	resp, body := h.call(t, token, http.MethodGet, "/api/v2/conversations/messages/"+conv.ID, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get conversation: %d %s", resp.StatusCode, body)
	}
	if err := h.sb.spec.ValidateResponseBody("MessageConversation", body); err != nil {
		t.Errorf("MessageConversation: %v", err)
	}
	if !conv.CustomerTypingAt.After(time.Time{}) {
		t.Errorf("typing event not recorded on the conversation")
	}
	kinds := map[InboundKind]int{}
	for _, r := range h.sb.Inbound() {
		kinds[r.Kind]++
	}
	if kinds[KindMessage] != 1 || kinds[KindEvent] != 1 || kinds[KindReceipt] != 1 || kinds[KindStructured] != 1 {
		t.Errorf("Inbound() kinds = %v", kinds)
	}
}

func TestInvalidInboundBodiesAreRefusedWith400AndRecorded(t *testing.T) {
	h := startSandbox(t, nil)
	in := h.sb.AddIntegration("bot", "http://127.0.0.1:1/webhook", testWebhookKey)
	token := h.token(t)
	base := "/api/v2/conversations/messages/" + in.ID + "/inbound/open/"
	now := genesys.FormatTime(time.Now())

	tests := []struct {
		name, kind, body, reason string
	}{
		{"message without channel.time", "message", `{"channel":{"from":{"id":"c","idType":"Opaque"}},"text":"hi"}`, "time"},
		{"message with idType in the wrong case", "message", `{"channel":{"from":{"id":"c","idType":"opaque"},"time":"` + now + `"},"text":"hi"}`, "idType"},
		{"message with neither text nor content", "message", `{"channel":{"from":{"id":"c","idType":"Opaque"},"time":"` + now + `"}}`, "text"},
		{"message with empty text", "message", `{"channel":{"from":{"id":"c","idType":"Opaque"},"time":"` + now + `"},"text":""}`, "text"},
		{"message whose time is not a date-time", "message", `{"channel":{"from":{"id":"c","idType":"Opaque"},"time":"yesterday"},"text":"hi"}`, "time"},
		{"attachment without mime", "message", `{"channel":{"from":{"id":"c","idType":"Opaque"},"time":"` + now + `"},"content":[{"attachment":{"mediaType":"Image","url":"https://x/y.png"}}]}`, "mime"},
		{"event without events", "event", `{"channel":{"from":{"id":"c","idType":"Opaque"},"time":"` + now + `"}}`, "events"},
		{"receipt with status Read", "receipt", `{"id":"x","channel":{"to":{"id":"c"},"time":"` + now + `"},"status":"Read"}`, "status"},
		{"structured response to no conversation", "structured/response",
			`{"channel":{"from":{"id":"nobody","idType":"Opaque"},"time":"` + now + `"},"buttonResponse":{"type":"QuickReply","text":"Yes","payload":"YES"},"originatingMessageId":"x"}`,
			"conversation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(h.sb.Rejected())
			resp, body := h.call(t, token, http.MethodPost, base+tt.kind, tt.body)
			var e genesys.ErrorBody
			_ = json.Unmarshal(body, &e)
			if resp.StatusCode != http.StatusBadRequest || e.Code != "bad.request" || e.Status != 400 {
				t.Fatalf("got %d %s, want 400 bad.request", resp.StatusCode, body)
			}
			if !strings.Contains(e.Message, tt.reason) {
				t.Errorf("message %q does not mention %q", e.Message, tt.reason)
			}
			rejected := h.sb.Rejected()
			if len(rejected) != before+1 || rejected[before].Status != 400 || string(rejected[before].Body) != tt.body {
				t.Errorf("Rejected() did not record it: %+v", rejected[before:])
			}
		})
	}
	if len(h.sb.Conversations()) != 0 || len(h.sb.Inbound()) != 0 {
		t.Errorf("a refused body left a trace: %d conversations, %d inbound", len(h.sb.Conversations()), len(h.sb.Inbound()))
	}

	resp, body := h.call(t, token, http.MethodPost, "/api/v2/conversations/messages/no-such-integration/inbound/open/message",
		`{"channel":{"from":{"id":"c","idType":"Opaque"},"time":"`+now+`"},"text":"hi"}`)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), `"not.found"`) {
		t.Errorf("unknown integration: %d %s, want 404 not.found", resp.StatusCode, body)
	}
}

func TestRepeatedMessageIDIsAnsweredOnceAndNotAppendedTwice(t *testing.T) {
	h := startSandbox(t, nil)
	in := h.sb.AddIntegration("bot", "http://127.0.0.1:1/webhook", testWebhookKey)
	client := h.client(t, testClientSecret)
	msg := customerMessage("customer-1", "bot-0001", "Hello", nil)

	first, err := client.SendMessage(context.Background(), in.ID, msg, true)
	if err != nil {
		t.Fatalf("first send: %v", err)
	}
	again, err := client.SendMessage(context.Background(), in.ID, msg, true)
	if err != nil {
		t.Fatalf("second send: %v", err)
	}
	if again.ID != first.ID || again.ConversationID != first.ConversationID {
		t.Errorf("repeat answered %s/%s, want the first %s/%s", again.ID, again.ConversationID, first.ID, first.ConversationID)
	}
	conv, _ := h.sb.Conversation(first.ConversationID)
	if len(conv.Messages) != 1 {
		t.Errorf("conversation has %d messages, want 1", len(conv.Messages))
	}
	inbound := h.sb.Inbound()
	if len(inbound) != 2 || inbound[0].Duplicate || !inbound[1].Duplicate {
		t.Errorf("Inbound() = %+v, want the repeat marked duplicate", inbound)
	}
}

func TestRateLimitAnswers429WithRetryAfterThatTheClientTreatsAsRetryable(t *testing.T) {
	h := startSandbox(t, func(c *Config) { c.RequestsPerMinute = 3 })
	client := h.client(t, testClientSecret)
	ctx := context.Background()
	for i := range 3 {
		if _, err := client.ResolveIntegration(ctx, "none"); !errors.Is(err, genesys.ErrIntegrationNotFound) {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	_, err := client.ResolveIntegration(ctx, "none")
	apiErr, ok := errors.AsType[*genesys.APIError](err)
	if !ok || apiErr.Status != http.StatusTooManyRequests || apiErr.Code != "too.many.requests" {
		t.Fatalf("fourth call: %v, want 429 too.many.requests", err)
	}
	if apiErr.RetryAfter <= 0 || apiErr.RetryAfter > time.Minute {
		t.Errorf("RetryAfter = %s, want within a minute", apiErr.RetryAfter)
	}
	if !genesys.IsRetryable(err) {
		t.Errorf("IsRetryable(%v) = false", err)
	}
	if apiErr.Message != "Rate limit exceeded the maximum [3] requests within [60] seconds" {
		t.Errorf("message = %q", apiErr.Message)
	}
}

func TestFault503TwiceThenTheCallSucceeds(t *testing.T) {
	h := startSandbox(t, nil)
	h.sb.AddIntegration("bot", "http://127.0.0.1:1/webhook", testWebhookKey)
	h.sb.SetFault(Fault{Status: http.StatusServiceUnavailable, RetryAfter: 2 * time.Second, Count: 2, PathContains: "/integrations/open"})
	client := h.client(t, testClientSecret)
	for i := range 2 {
		_, err := client.ResolveIntegration(context.Background(), "bot")
		apiErr, ok := errors.AsType[*genesys.APIError](err)
		if !ok || apiErr.Status != http.StatusServiceUnavailable || apiErr.RetryAfter != 2*time.Second || !genesys.IsRetryable(err) {
			t.Fatalf("call %d: %v, want a retryable 503 with Retry-After 2s", i+1, err)
		}
	}
	if _, err := client.ResolveIntegration(context.Background(), "bot"); err != nil {
		t.Fatalf("third call: %v", err)
	}
}

func TestFaultLatencyDelaysTheAnswer(t *testing.T) {
	h := startSandbox(t, nil)
	h.sb.SetFault(Fault{Latency: 150 * time.Millisecond, Count: 1, PathContains: "/oauth/token"})
	started := time.Now()
	h.token(t)
	if took := time.Since(started); took < 150*time.Millisecond {
		t.Errorf("token came after %s, want at least 150ms", took)
	}
}

func TestFaultResetGivesTheClientATransportError(t *testing.T) {
	h := startSandbox(t, nil)
	in := h.sb.AddIntegration("bot", "http://127.0.0.1:1/webhook", testWebhookKey)
	h.sb.SetFault(Fault{Reset: true, PathContains: "/inbound/open/message"})
	_, err := h.client(t, testClientSecret).SendMessage(context.Background(), in.ID, customerMessage("c", "m", "hi", nil), true)
	t.Logf("client saw: %v", err)
	if _, ok := errors.AsType[*genesys.TransportError](err); !ok {
		t.Fatalf("err = %v, want a *TransportError", err)
	}
	if !genesys.IsRetryable(err) {
		t.Errorf("a reset should be retryable: %v", err)
	}
	if len(h.sb.Conversations()) != 0 {
		t.Errorf("the reset request was handled anyway")
	}
	h.sb.ClearFaults()
	if _, err := h.client(t, testClientSecret).SendMessage(context.Background(), in.ID, customerMessage("c", "m", "hi", nil), true); err != nil {
		t.Fatalf("after ClearFaults: %v", err)
	}
}

func TestPatchingTheCustomerDisconnectedEndsTheConversation(t *testing.T) {
	h := startSandbox(t, nil)
	in := h.sb.AddIntegration("bot", "http://127.0.0.1:1/webhook", testWebhookKey)
	cid := startConversation(t, h, in.ID, "customer-1")
	if err := h.sb.Accept(cid, "Max Agent"); err != nil {
		t.Fatalf("Accept: %v", err)
	}
	client := h.client(t, testClientSecret)
	conv, _ := client.GetConversation(context.Background(), cid)
	var customerID string
	for _, p := range conv.Participants {
		if p.Purpose == "customer" {
			customerID = p.ID
		}
	}
	if err := client.DisconnectParticipant(context.Background(), cid, customerID); err != nil {
		t.Fatalf("DisconnectParticipant: %v", err)
	}
	conv, _ = client.GetConversation(context.Background(), cid)
	for _, p := range conv.Participants {
		switch p.Purpose {
		case "customer":
			if p.State != "disconnected" || p.EndTime.IsZero() {
				t.Errorf("customer = %+v", p)
			}
		case "agent":
			if p.State != "disconnected" || p.DisconnectType != "peer" || p.StartAcwTime.IsZero() {
				t.Errorf("agent = %+v, want disconnected by peer with after-call work", p)
			}
		}
	}
	if got, _ := h.sb.Conversation(cid); got.State != StateEnded {
		t.Errorf("state = %s, want ended", got.State)
	}
	// The next message from the same customer starts a new conversation.
	next, err := client.SendMessage(context.Background(), in.ID, customerMessage("customer-1", "after-end", "Back again", nil), true)
	if err != nil {
		t.Fatalf("message after the end: %v", err)
	}
	if next.ConversationID == cid {
		t.Errorf("a message after the end joined the ended conversation")
	}
	// Disconnecting again is answered the same way.
	if err := client.DisconnectParticipant(context.Background(), cid, customerID); err != nil {
		t.Errorf("second disconnect: %v", err)
	}
}

func TestReceiptIsRecordedAgainstTheAgentMessage(t *testing.T) {
	rcv := startReceiver(t)
	h := startSandbox(t, nil)
	in := h.sb.AddIntegration("bot", rcv.url, testWebhookKey)
	cid := startConversation(t, h, in.ID, "customer-1")
	if err := h.sb.Accept(cid, "Max Agent"); err != nil {
		t.Fatalf("Accept: %v", err)
	}
	id, err := h.sb.AgentSend(cid, "Hi", "")
	if err != nil {
		t.Fatalf("AgentSend: %v", err)
	}
	_, err = h.client(t, testClientSecret).SendReceipt(context.Background(), in.ID, genesys.InboundReceipt{
		ID:      id,
		Channel: genesys.ReceiptChannel{To: genesys.Recipient{ID: "customer-1", IDType: genesys.IDTypeOpaque}},
		Status:  genesys.ReceiptFailed, IsFinalReceipt: true,
		Reasons: []genesys.Reason{{Code: genesys.ReasonGeneralError, Message: "session closed"}},
	})
	if err != nil {
		t.Fatalf("SendReceipt: %v", err)
	}
	conv, _ := h.sb.Conversation(cid)
	last := conv.Messages[len(conv.Messages)-1]
	if last.ID != id || last.ReceiptStatus != "Failed" || len(last.ReceiptReasons) != 1 {
		t.Errorf("agent message = %+v", last)
	}
}

func TestUnknownAPIPathsAnswerAnErrorBody(t *testing.T) {
	h := startSandbox(t, nil)
	resp, body := h.call(t, h.token(t), http.MethodGet, "/api/v2/users/me", nil)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), `"code":"not.found"`) {
		t.Errorf("got %d %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
		t.Errorf("Content-Type %q", got)
	}

}

// Genesys limits an OAuth client, not one of its tokens: several instances,
// each with its own token, share the limit (docs/genesys.md §RateLimits).
func TestTheRateLimitCountsEveryTokenOfAClientTogether(t *testing.T) {
	h := startSandbox(t, func(c *Config) { c.RequestsPerMinute = 4 })
	first, second := h.token(t), h.token(t)
	for i, tok := range []string{first, second, first, second} {
		if resp, body := h.call(t, tok, http.MethodGet, "/api/v2/notifications/channels", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("call %d: %d %s", i+1, resp.StatusCode, body)
		}
	}
	if resp, _ := h.call(t, first, http.MethodGet, "/api/v2/notifications/channels", nil); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("fifth call of the client with either token: %d, want 429", resp.StatusCode)
	}
	if calls := h.sb.APICalls(); len(calls) != 4 || calls[0].ClientID != testClientID || calls[0].Path != "/api/v2/notifications/channels" {
		t.Fatalf("APICalls() = %+v, want the 4 accepted calls", calls)
	}
}

func TestFaultSlowAnswerDoesTheWorkBeforeTheAnswerIsLate(t *testing.T) {
	h := startSandbox(t, nil)
	in := h.sb.AddIntegration("bot", "http://127.0.0.1:1/webhook", testWebhookKey)
	h.sb.SetFault(Fault{SlowAnswer: time.Minute, Count: 1, PathContains: "/inbound/open/message"})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := h.client(t, testClientSecret).SendMessage(ctx, in.ID, customerMessage("c", "m-1", "hi", nil), true)
	if err == nil {
		t.Fatal("the answer came before the caller gave up")
	}
	if inbound := h.sb.Inbound(); len(inbound) != 1 || inbound[0].Kind != KindMessage {
		t.Fatalf("Inbound() = %+v, want the message recorded although its answer never came", inbound)
	}
}
