package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/genesys/sandbox"
	"github.com/handover-relay/handover/internal/testkit"
	"github.com/handover-relay/handover/paths"
	"github.com/handover-relay/handover/relay"
)

// A Bot Connector endpoint that also has an Open Messaging integration
// (docs/genesys.md §BotConnector, "Handover over Open Messaging"): the
// sandbox's bot flow runs inside a messaging conversation of that
// integration, and after Transfer to ACD the agent's answers reach Handover
// as signed webhooks, on the session's own conversation.
func TestSandboxBotFlowOverOpenMessagingHandsTheAgentsAnswerToHandover(t *testing.T) {
	f := startFull(t)
	const clientID, deployment = "bot-flow-om-client", "bot-flow-om-deployment"
	f.srv.Sandbox.AddClient(clientID, secClientSecret)
	f.srv.Sandbox.AddQueue(secQueueID, "Bot flow queue")
	om := f.srv.Sandbox.AddIntegration(deployment, f.srv.LocalURL+paths.GenesysWebhook, secWebhookSecret)
	bc := f.srv.Sandbox.AddBotConnectorIntegration("Handover bots", "https://example.invalid/botconnector", bcHeader, bcCredential)
	e := f.createBotConnectorEndpoint(t, map[string]any{"handoverProvider": "genesysCloudOM", "host": f.srv.LocalURL + paths.Sandbox, "clientId": clientID,
		"clientSecret": secClientSecret, "deploymentName": deployment, "queueId": secQueueID, "webhookSecret": secWebhookSecret, "botConnectorIntegrationId": bc.ID})
	// Test connection resolves the deployment to its integration (which the
	// webhooks name) and registers the bot, as an admin does.
	status, answer := f.api(http.MethodPost, strings.Replace(paths.APIEndpointPreflight, ":id", itoa(e.ID), 1), nil)
	if status != http.StatusOK || !strings.Contains(answer, om.ID) {
		t.Fatalf("Test connection: %d %s", status, answer)
	}
	bc = f.srv.Sandbox.AddBotConnectorIntegration("Handover bots over OM", e.BotConnectorURL, bcHeader, bcCredential)
	if err := f.srv.Sandbox.RouteBotFlow(bc.ID, om.ID); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	first, err := f.srv.Sandbox.RunBotFlowTurn(ctx, bc.ID, "hello there")
	if err != nil || first.BotState != genesys.BotStateMoreData {
		t.Fatalf("hello: %+v %v", first, err)
	}
	last, err := f.srv.Sandbox.RunBotFlowTurn(ctx, bc.ID, "agent please")
	if err != nil || last.BotState != genesys.BotStateComplete || last.Intent != relay.IntentHandover || last.ConversationID == "" {
		t.Fatalf("handover: %+v %v", last, err)
	}
	conv, ok := f.srv.Sandbox.Conversation(last.ConversationID)
	if !ok || conv.IntegrationID != om.ID || conv.State != sandbox.StateWaiting {
		t.Fatalf("the transferred conversation is not a waiting conversation of the Open Messaging integration: %+v", conv)
	}
	var transcript []string
	for _, m := range conv.Messages {
		transcript = append(transcript, m.Text)
	}
	if !strings.Contains(strings.Join(transcript, "\n"), "hello there") || !strings.Contains(strings.Join(transcript, "\n"), "agent please") {
		t.Fatalf("the agent does not see the bot turns: %q", transcript)
	}

	// Handover's conversation of the session waits for the agent, as the
	// same Genesys conversation.
	id := onlyConversation(t, f)
	detail := conversationDetail(t, f, id)
	if detail.State != "queued" || detail.GenesysConversationID != last.ConversationID {
		t.Fatalf("Handover's conversation after the handover: %+v", detail)
	}

	if err := f.srv.Sandbox.Accept(last.ConversationID, "Alice Agent"); err != nil {
		t.Fatal(err)
	}
	const answerText = "Hi, Alice here: how can I help?"
	if _, err := f.srv.Sandbox.AgentSend(last.ConversationID, answerText, ""); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, "the agent's answer on Handover's timeline", func() bool {
		_, raw := f.api(http.MethodGet, strings.Replace(paths.APIConversation, ":id", itoa(id), 1), nil)
		return strings.Contains(raw, answerText)
	})
	detail = conversationDetail(t, f, id)
	if detail.State != "agent_joined" || detail.AgentName != "Alice Agent" {
		t.Fatalf("Handover's conversation after the agent's answer: %+v", detail)
	}
	// It came as a signed webhook of the integration, and Handover told
	// Genesys it was delivered.
	var signed bool
	for _, d := range f.srv.Sandbox.Deliveries() {
		signed = signed || (d.ConversationID == last.ConversationID && d.IntegrationID == om.ID && d.Signature != "" && d.Status == http.StatusOK &&
			strings.Contains(string(d.Body), answerText))
	}
	if !signed {
		t.Fatalf("no signed webhook with the answer was delivered: %+v", f.srv.Sandbox.Deliveries())
	}
	testkit.WaitFor(t, 30*time.Second, "Handover's Delivered receipt in the sandbox", func() bool {
		for _, in := range f.srv.Sandbox.Inbound() {
			if in.Kind == sandbox.KindReceipt && in.ConversationID == last.ConversationID && strings.Contains(string(in.Body), genesys.ReceiptDelivered) {
				return true
			}
		}
		return false
	})
}

type conversationSummary struct {
	State                 string `json:"state"`
	GenesysConversationID string `json:"genesysConversationId"`
	AgentName             string `json:"agentName"`
}

func onlyConversation(t *testing.T, f *fullServer) int64 {
	t.Helper()
	status, list := f.api(http.MethodGet, paths.APIConversations, nil)
	var page struct {
		Conversations []struct {
			ID int64 `json:"id"`
		} `json:"conversations"`
	}
	if err := json.Unmarshal([]byte(list), &page); status != http.StatusOK || err != nil || len(page.Conversations) != 1 {
		t.Fatalf("one conversation expected: %d %s", status, list)
	}
	return page.Conversations[0].ID
}

func conversationDetail(t *testing.T, f *fullServer, id int64) conversationSummary {
	t.Helper()
	status, raw := f.api(http.MethodGet, strings.Replace(paths.APIConversation, ":id", itoa(id), 1), nil)
	var out conversationSummary
	if err := json.Unmarshal([]byte(raw), &out); status != http.StatusOK || err != nil {
		t.Fatalf("conversation %d: %d %s", id, status, raw)
	}
	return out
}
