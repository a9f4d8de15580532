package sandbox

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/internal/testkit"
)

func TestTheBotListPutIsValidatedAgainstTheBotListModel(t *testing.T) {
	h := startSandbox(t, nil)
	in := h.sb.AddBotConnectorIntegration("Bots", "https://example.invalid/botconnector", "X-Key", "value-0123456789abcdef")
	good := genesys.BotList{ChatBots: []genesys.BotConnectorBot{{ID: "handover-endpoint-1", Name: "Support", Versions: []genesys.BotConnectorBotVersion{
		{Version: "1", SupportedLanguages: []string{"en-us"}, Intents: []genesys.BotIntent{{Name: "handover"}}}}}}}
	if err := h.client(t, testClientSecret).PutBotConnectorBots(context.Background(), in.ID, good); err != nil {
		t.Fatalf("a good bot list: %v", err)
	}
	if got, ok := h.sb.BotList(in.ID); !ok || got.ChatBots[0].ID != "handover-endpoint-1" {
		t.Fatalf("the sandbox kept %+v", got)
	}
	token := h.token(t)
	path := genesys.BotConnectorBotsPath(in.ID)
	for name, body := range map[string]string{
		"no chatBots":               `{}`,
		"a bot without versions":    `{"chatBots":[{"id":"b"}]}`,
		"a version without intents": `{"chatBots":[{"id":"b","versions":[{"version":"1","supportedLanguages":["en-us"]}]}]}`,
		"an intent without a name":  `{"chatBots":[{"id":"b","versions":[{"version":"1","supportedLanguages":["en-us"],"intents":[{}]}]}]}`,
		"a name with spaces round":  `{"chatBots":[{"id":" b ","versions":[{"version":"1","supportedLanguages":["en-us"],"intents":[]}]}]}`,
		"no languages":              `{"chatBots":[{"id":"b","versions":[{"version":"1","supportedLanguages":[],"intents":[]}]}]}`,
		"not JSON":                  `{"chatBots":`,
	} {
		resp, answer := h.call(t, token, http.MethodPut, path, body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(answer), "bad.request") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, answer)
		}
	}
	resp, _ := h.call(t, token, http.MethodPut, genesys.BotConnectorBotsPath("0f1e2d3c-4b5a-4978-8a7b-6c5d4e3f2a1b"), good)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown integration: %d", resp.StatusCode)
	}
}

func TestABotFlowRoutedOnTheDeskThroughAnOpenMessagingIntegrationHandsOverAsItsMessagingConversation(t *testing.T) {
	h := startSandbox(t, nil)
	rcv := startReceiver(t)
	om := h.sb.AddIntegration("Handover OM", rcv.url, "webhook-secret-0123456789")
	turns := make(chan genesys.BotConnectorRequest, 10)
	bot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req genesys.BotConnectorRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		turns <- req
		resp := genesys.BotConnectorResponse{BotState: genesys.BotStateMoreData, ReplyMessages: []genesys.BotConnectorReply{{Type: "Text", Text: "Bot: " + req.InputMessage.Text}}}
		if req.InputMessage.Text == "agent" {
			resp.BotState, resp.Intent = genesys.BotStateComplete, intentHandover
		}
		_ = json.NewEncoder(w).Encode(resp)
	}))
	t.Cleanup(bot.Close)
	bc := h.sb.AddBotConnectorIntegration("Bots", bot.URL+"/botconnector", "X-Key", "value-0123456789abcdef")

	// The desk offers the integration as the bot flow's message routing.
	_, doc, _ := getPage(t, h.base+"/desk")
	if doc.Find(`[data-testid="desk-bot-flow-routing-select"] option[value="`+om.ID+`"]`).Length() != 1 {
		t.Fatal("the desk does not offer the Open Messaging integration as the bot flow's routing")
	}
	resp, _ := submit(t, h.base, doc, "desk-bot-flow-routing", url.Values{"integration": {om.ID}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("route: %d", resp.StatusCode)
	}
	_, doc, _ = getPage(t, h.base+"/desk")
	if doc.Find(`[data-testid="desk-bot-flow-routing-select"] option[value="`+om.ID+`"][selected]`).Length() != 1 {
		t.Fatal("the desk does not show the routing chosen")
	}

	ctx := context.Background()
	if _, err := h.sb.RunBotFlowTurn(ctx, bc.ID, "hello"); err != nil {
		t.Fatal(err)
	}
	first := <-turns
	customer := first.Parameters[paramOpenMessagingCustomerID]
	if customer == "" {
		t.Fatalf("the turn does not name the Open Messaging customer: %+v", first.Parameters)
	}
	last, err := h.sb.RunBotFlowTurn(ctx, bc.ID, "agent")
	if err != nil || last.ConversationID != first.GenesysConversationID {
		t.Fatalf("Transfer to ACD did not keep the conversation %s: %+v %v", first.GenesysConversationID, last, err)
	}
	<-turns // the routed flow's last turn
	conv, _ := h.sb.Conversation(last.ConversationID)
	if conv.IntegrationID != om.ID || conv.Customer.ID != customer || len(conv.Messages) != 4 {
		t.Fatalf("the transferred conversation: %+v", conv)
	}
	if err := h.sb.Accept(last.ConversationID, "Max Agent"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.sb.AgentSend(last.ConversationID, "Hello, Max here", ""); err != nil {
		t.Fatal(err)
	}
	var answer receivedWebhook
	testkit.WaitFor(t, 20*time.Second, "the agent's answer at the integration's webhook", func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		for _, w := range rcv.got {
			if strings.Contains(string(w.body), "Hello, Max here") {
				answer = w
				return true
			}
		}
		return false
	})
	var hook genesys.Webhook
	if err := json.Unmarshal(answer.body, &hook); err != nil || hook.Channel.To.ID != customer || hook.Channel.ID != om.ID {
		t.Fatalf("the webhook: %s %v", answer.body, err)
	}
	if err := genesys.VerifySignature("webhook-secret-0123456789", answer.body, answer.signature); err != nil {
		t.Fatalf("the webhook is not signed with the integration's secret: %v", err)
	}

	// Routed back to none, the next flow's handover stays on the desk.
	if err := h.sb.RouteBotFlow(bc.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := h.sb.RunBotFlowTurn(ctx, bc.ID, "agent"); err != nil {
		t.Fatal(err)
	}
	if req := <-turns; req.Parameters[paramOpenMessagingCustomerID] != "" {
		t.Fatalf("an unrouted flow names an Open Messaging customer: %+v", req.Parameters)
	}
}
