package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/paths"
	"github.com/handover-relay/handover/relay"
)

// The Genesys Bot Connector endpoint over loopback (docs/genesys.md
// §BotConnector): Genesys-shaped turns in, the endpoint's bot asked, botState out.

const (
	bcHeader     = "X-Handover-Key"
	bcCredential = "BCCRED-distinctive-5e1d0a77"
)

type botConnectorEndpoint struct {
	ID              int64  `json:"id"`
	Type            string `json:"type"`
	BotConnectorURL string `json:"botConnectorUrl"`
	HeaderSet       bool   `json:"botConnectorHeaderValueSet"`
}

// createBotConnectorEndpoint creates a Bot Connector endpoint through the admin API.
func (f *fullServer) createBotConnectorEndpoint(t *testing.T, extra map[string]any) botConnectorEndpoint {
	t.Helper()
	body := map[string]any{"name": "Bot Connector " + t.Name(), "type": "genesysBotConnector", "botConnectorHeaderName": bcHeader, "botConnectorHeaderValue": bcCredential}
	for k, v := range extra {
		body[k] = v
	}
	data, _ := json.Marshal(body)
	status, answer := f.api(http.MethodPost, paths.APIEndpoints, data)
	if status != http.StatusCreated {
		t.Fatalf("create Bot Connector endpoint: %d %s", status, answer)
	}
	var e botConnectorEndpoint
	if err := json.Unmarshal([]byte(answer), &e); err != nil {
		t.Fatal(err)
	}
	if e.Type != "genesysBotConnector" || !strings.HasSuffix(e.BotConnectorURL, "/botconnector") || !e.HeaderSet {
		t.Fatalf("the answer does not show a Bot Connector endpoint: %s", answer)
	}
	if strings.Contains(answer, bcCredential) {
		t.Fatalf("the answer shows the credential: %s", answer)
	}
	return e
}

// turn posts a Genesys-shaped turn to the Handle Utterance URL.
func turn(t *testing.T, url, credential, session string, input map[string]any) (int, genesys.BotConnectorResponse, string) {
	t.Helper()
	return turnWithID(t, url, credential, session, "m-"+time.Now().Format("150405.000000000"), input)
}

// turnWithID is turn with the given messageId, as Genesys repeats it when it
// retries the turn.
func turnWithID(t *testing.T, url, credential, session, messageID string, input map[string]any) (int, genesys.BotConnectorResponse, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"botId": "handover-endpoint-1", "botVersion": "1", "botSessionId": session, "messageId": messageID,
		"inputMessage": input, "languageCode": "en-us", "botSessionTimeout": 720, "genesysConversationId": "4f1e6a0c-2b9d-4c3e-8f7a-1d2c3b4a5e6f",
		"parameters": map[string]string{"channel": "webmessaging"},
	})
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if credential != "" {
		req.Header.Set(bcHeader, credential)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out genesys.BotConnectorResponse
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("answer %s: %v", data, err)
		}
	}
	return resp.StatusCode, out, string(data)
}

func text(s string) map[string]any { return map[string]any{"type": "Text", "text": s} }

func TestBotConnectorTurnsGetMoreDataFromTheBuiltInBotAndAgentCompletesWithHandover(t *testing.T) {
	f := startFull(t)
	e := f.createBotConnectorEndpoint(t, map[string]any{"language": "de-de", "skills": []string{"Billing"}})

	status, resp, raw := turn(t, e.BotConnectorURL, bcCredential, "session-1", text("hello"))
	if status != http.StatusOK || resp.BotState != genesys.BotStateMoreData || len(resp.ReplyMessages) == 0 || resp.ReplyMessages[0].Text == "" {
		t.Fatalf("hello: %d %s", status, raw)
	}
	// A tapped quick reply comes as Structured with a buttonResponse.
	status, resp, raw = turn(t, e.BotConnectorURL, bcCredential, "session-1", map[string]any{"type": "Structured",
		"content": []any{map[string]any{"contentType": "ButtonResponse", "buttonResponse": map[string]any{"type": "QuickReply", "text": "Yes", "payload": "yes please"}}}})
	if status != http.StatusOK || resp.BotState != genesys.BotStateMoreData {
		t.Fatalf("structured: %d %s", status, raw)
	}
	status, resp, raw = turn(t, e.BotConnectorURL, bcCredential, "session-1", text("agent"))
	if status != http.StatusOK || resp.BotState != genesys.BotStateComplete || resp.Intent != relay.IntentHandover {
		t.Fatalf("agent: %d %s", status, raw)
	}
	if resp.Parameters["language"] != "en-us" || resp.Parameters["skills"] != "Billing" || resp.Confidence == nil {
		t.Fatalf("agent: the parameters the flow reads for Transfer to ACD are missing: %s", raw)
	}

	// The session is a conversation in the console, its timeline with each
	// turn, the bot's replies and the final botState.
	status, list := f.api(http.MethodGet, paths.APIConversations, nil)
	if status != http.StatusOK || !strings.Contains(list, "botconnector:session-1") {
		t.Fatalf("conversations: %d %s", status, list)
	}
	var page struct {
		Conversations []struct {
			ID    int64  `json:"id"`
			State string `json:"state"`
		} `json:"conversations"`
	}
	_ = json.Unmarshal([]byte(list), &page)
	if len(page.Conversations) != 1 || page.Conversations[0].State != "ended" {
		t.Fatalf("one ended conversation expected: %s", list)
	}
	_, detail := f.api(http.MethodGet, strings.Replace(paths.APIConversation, ":id", itoa(page.Conversations[0].ID), 1), nil)
	for _, want := range []string{"hello", "yes please", "agent", "One moment", "botState MoreData", "botState Complete", relay.IntentHandover} {
		if !strings.Contains(detail, want) {
			t.Errorf("the timeline does not show %q: %s", want, detail)
		}
	}
	// And in the metrics.
	req, _ := http.NewRequest(http.MethodGet, f.base+paths.Metrics, nil)
	req.Header.Set("Authorization", "Bearer "+secMetricsToken)
	mresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	if !strings.Contains(string(metrics), `handover_bot_connector_turns_total{bot_state="Complete"} 1`) ||
		!strings.Contains(string(metrics), `handover_bot_connector_turns_total{bot_state="MoreData"} 2`) {
		t.Errorf("the metrics do not count the turns")
	}
}

func TestABotConnectorTurnWithAWrongCredentialIsRefusedAndLogged(t *testing.T) {
	f := startFull(t)
	e := f.createBotConnectorEndpoint(t, nil)
	for name, credential := range map[string]string{"wrong": bcCredential[:len(bcCredential)-1] + "X", "missing": ""} {
		status, _, raw := turn(t, e.BotConnectorURL, credential, "session-"+name, text("hello"))
		if status != http.StatusUnauthorized || !strings.Contains(raw, "unauthorized") {
			t.Errorf("%s credential: %d %s", name, status, raw)
		}
	}
	if !strings.Contains(f.logs.String(), "bot connector turn refused: wrong credential") {
		t.Errorf("the refusal is not logged")
	}
	if strings.Contains(f.logs.String(), bcCredential[:20]) {
		t.Errorf("the log shows the credential")
	}
	// A bot endpoint's token does not open the Handle Utterance URL.
	bot := f.createEndpoint(t)
	status, _, raw := turn(t, f.base+"/"+bot.URLToken+"/botconnector", bcCredential, "session-x", text("hello"))
	if status != http.StatusNotFound {
		t.Errorf("a bot endpoint's token: %d %s", status, raw)
	}
	// Not a turn: a clear 400.
	status, _, raw = turn(t, e.BotConnectorURL, bcCredential, "", text("hello"))
	if status != http.StatusBadRequest || !strings.Contains(raw, "botSessionId") {
		t.Errorf("no botSessionId: %d %s", status, raw)
	}
}

func TestBotConnectorTurnsAskTheExternalBotAtTheBotURL(t *testing.T) {
	f := startFull(t)
	turns := make(chan relay.BotTurn, 10)
	bot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in relay.BotTurn
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		turns <- in
		reply := relay.BotReply{Replies: []relay.BotMessage{{Text: "External bot here: " + in.Text, QuickReplies: []string{"person"}}}, Intent: "smalltalk"}
		if in.Text == "person" {
			reply = relay.BotReply{Replies: []relay.BotMessage{{Text: "Handing you over."}}, Handover: true, Parameters: map[string]string{"skills": "VIP"}}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(reply)
	}))
	t.Cleanup(bot.Close)
	e := f.createBotConnectorEndpoint(t, map[string]any{"botUrl": bot.URL + "/turn"})

	status, resp, raw := turn(t, e.BotConnectorURL, bcCredential, "session-ext", text("hi there"))
	if status != http.StatusOK || resp.BotState != genesys.BotStateMoreData || resp.ReplyMessages[0].Text != "External bot here: hi there" || resp.Intent != "smalltalk" {
		t.Fatalf("hi: %d %s", status, raw)
	}
	if resp.ReplyMessages[0].Type != "Structured" || resp.ReplyMessages[0].Content[0].QuickReply.Text != "person" {
		t.Fatalf("the quick reply is not relayed: %s", raw)
	}
	got := <-turns
	if got.SessionID != "session-ext" || got.Text != "hi there" || got.Language != "en-us" || got.Parameters["channel"] != "webmessaging" || got.UserID == "" {
		t.Fatalf("the bot got %+v", got)
	}
	status, resp, raw = turn(t, e.BotConnectorURL, bcCredential, "session-ext", text("person"))
	if status != http.StatusOK || resp.BotState != genesys.BotStateComplete || resp.Intent != relay.IntentHandover || resp.Parameters["skills"] != "VIP" {
		t.Fatalf("person: %d %s", status, raw)
	}
}

func TestAnUnreachableBotGetsFailedWithErrorInfoWithinTheTimeLimit(t *testing.T) {
	f := startFull(t)
	// A port nobody listens on: taken, then given back.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/turn"
	l.Close()
	e := f.createBotConnectorEndpoint(t, map[string]any{"botUrl": closed})
	started := time.Now()
	status, resp, raw := turn(t, e.BotConnectorURL, bcCredential, "session-down", text("hello"))
	if elapsed := time.Since(started); elapsed >= relay.DefaultBotTimeout {
		t.Errorf("the answer took %s, beyond the bot timeout %s", elapsed, relay.DefaultBotTimeout)
	}
	if status != http.StatusOK || resp.BotState != genesys.BotStateFailed || resp.ErrorInfo == nil || resp.ErrorInfo.ErrorCode != "bot_unreachable" || resp.ErrorInfo.ErrorMessage == "" {
		t.Fatalf("unreachable bot: %d %s", status, raw)
	}
}

func TestTheWhitelistGatesTheBotConnectorTypeInTheAPIAndTheForm(t *testing.T) {
	f := startFullWith(t, map[string]string{"FEATURE_USE_GENESYS_BOT_CONNECTOR_ENDPOINT_WHITELIST": "Another Org"})
	data, _ := json.Marshal(map[string]any{"name": "Refused", "type": "genesysBotConnector", "botConnectorHeaderName": bcHeader, "botConnectorHeaderValue": bcCredential})
	status, answer := f.api(http.MethodPost, paths.APIEndpoints, data)
	if status != http.StatusUnprocessableEntity || !strings.Contains(answer, "FEATURE_USE_GENESYS_BOT_CONNECTOR_ENDPOINT_WHITELIST") || !strings.Contains(answer, `"type"`) {
		t.Fatalf("a Bot Connector endpoint for an organisation not on the whitelist: %d %s", status, answer)
	}
	_, client := f.signIn()
	_, page := do(t, client, http.MethodGet, f.base+paths.EndpointNew, "", nil)
	if strings.Contains(page, `value="genesysBotConnector"`) || !strings.Contains(page, `data-testid="bot-connector-unavailable"`) {
		t.Fatalf("the form offers the Bot Connector type, or does not say why not")
	}
	// The organisation on the list gets it.
	g := startFullWith(t, map[string]string{"FEATURE_USE_GENESYS_BOT_CONNECTOR_ENDPOINT_WHITELIST": "default"})
	_, client = g.signIn()
	_, page = do(t, client, http.MethodGet, g.base+paths.EndpointNew, "", nil)
	if !strings.Contains(page, `value="genesysBotConnector"`) {
		t.Fatalf("the form does not offer the Bot Connector type to a listed organisation")
	}
}

func TestRegisterBotPutsTheBotListIntoTheSandboxIntegration(t *testing.T) {
	f := startFull(t)
	const clientID = "bot-connector-client"
	f.srv.Sandbox.AddClient(clientID, secClientSecret)
	integration := f.srv.Sandbox.AddBotConnectorIntegration("Handover bots", "https://example.invalid/botconnector", bcHeader, bcCredential)
	e := f.createBotConnectorEndpoint(t, map[string]any{"host": f.srv.LocalURL + paths.Sandbox, "clientId": clientID, "clientSecret": secClientSecret,
		"botConnectorIntegrationId": integration.ID, "language": "en-GB"})
	status, answer := f.api(http.MethodPost, strings.Replace(paths.APIEndpointRegisterBot, ":id", itoa(e.ID), 1), nil)
	if status != http.StatusOK || !strings.Contains(answer, integration.ID) {
		t.Fatalf("register bot: %d %s", status, answer)
	}
	list, ok := f.srv.Sandbox.BotList(integration.ID)
	if !ok || len(list.ChatBots) != 1 {
		t.Fatalf("the sandbox has no bot list: %+v", list)
	}
	bot := list.ChatBots[0]
	if bot.Name != "Bot Connector "+t.Name() || bot.Versions[0].SupportedLanguages[0] != "en-gb" || bot.Versions[0].Intents[0].Name != relay.IntentHandover {
		t.Fatalf("registered %+v", bot)
	}
	// Without an integration id, a clear 422.
	data, _ := json.Marshal(map[string]any{"botConnectorIntegrationId": ""})
	f.api(http.MethodPut, strings.Replace(paths.APIEndpoint, ":id", itoa(e.ID), 1), data)
	status, answer = f.api(http.MethodPost, strings.Replace(paths.APIEndpointRegisterBot, ":id", itoa(e.ID), 1), nil)
	if status != http.StatusUnprocessableEntity || !strings.Contains(answer, "no_bot_connector_integration") {
		t.Fatalf("register bot without an integration: %d %s", status, answer)
	}
}

func TestTheSandboxBotFlowTransfersToTheQueueOnHandover(t *testing.T) {
	f := startFull(t)
	e := f.createBotConnectorEndpoint(t, nil)
	integration := f.srv.Sandbox.AddBotConnectorIntegration("Handover bots", e.BotConnectorURL, bcHeader, bcCredential)
	ctx := context.Background()
	first, err := f.srv.Sandbox.RunBotFlowTurn(ctx, integration.ID, "hello")
	if err != nil || first.BotState != genesys.BotStateMoreData || len(first.Replies) == 0 {
		t.Fatalf("hello: %+v %v", first, err)
	}
	last, err := f.srv.Sandbox.RunBotFlowTurn(ctx, integration.ID, "I want a human")
	if err != nil || last.BotState != genesys.BotStateComplete || last.Intent != relay.IntentHandover || last.ConversationID == "" {
		t.Fatalf("handover: %+v %v", last, err)
	}
	conv, ok := f.srv.Sandbox.Conversation(last.ConversationID)
	if !ok || conv.State != "waiting" || len(conv.Messages) < 4 {
		t.Fatalf("the transferred conversation: %+v", conv)
	}
}

func TestTestConnectionOfABotConnectorEndpointRegistersItsBot(t *testing.T) {
	f := startFull(t)
	const clientID = "bot-connector-preflight"
	f.srv.Sandbox.AddClient(clientID, secClientSecret)
	integration := f.srv.Sandbox.AddBotConnectorIntegration("Handover bots", "https://example.invalid/botconnector", bcHeader, bcCredential)
	e := f.createBotConnectorEndpoint(t, map[string]any{"host": f.srv.LocalURL + paths.Sandbox, "clientId": clientID, "clientSecret": secClientSecret,
		"botConnectorIntegrationId": integration.ID})
	status, answer := f.api(http.MethodPost, strings.Replace(paths.APIEndpointPreflight, ":id", itoa(e.ID), 1), nil)
	if status != http.StatusOK || !strings.Contains(answer, `"passed":true`) || !strings.Contains(answer, relay.CheckBotList) {
		t.Fatalf("Test connection: %d %s", status, answer)
	}
	if _, ok := f.srv.Sandbox.BotList(integration.ID); !ok {
		t.Fatal("Test connection did not register the bot")
	}
}

func TestARetriedBotConnectorTurnGetsTheSameAnswerWithoutAskingTheBotAgain(t *testing.T) {
	f := startFull(t)
	var asked atomic.Int64
	release := make(chan struct{})
	askedOnce := make(chan struct{}, 10)
	bot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in relay.BotTurn
		_ = json.NewDecoder(r.Body).Decode(&in)
		n := asked.Add(1)
		askedOnce <- struct{}{}
		if in.Text == "slow" {
			<-release // Genesys gives up waiting and retries meanwhile
		}
		w.Header().Set("Content-Type", "application/json")
		reply := relay.BotReply{Replies: []relay.BotMessage{{Text: fmt.Sprintf("answer %d to %s", n, in.Text)}}}
		if in.Text == "person" {
			reply = relay.BotReply{Replies: []relay.BotMessage{{Text: fmt.Sprintf("handing over (%d)", n)}}, Handover: true}
		}
		_ = json.NewEncoder(w).Encode(reply)
	}))
	t.Cleanup(bot.Close)
	e := f.createBotConnectorEndpoint(t, map[string]any{"botUrl": bot.URL + "/turn"})

	// A retry after the answer: the same answer, the bot asked once.
	_, first, raw := turnWithID(t, e.BotConnectorURL, bcCredential, "session-r", "m-1", text("hello"))
	_, _, rawAgain := turnWithID(t, e.BotConnectorURL, bcCredential, "session-r", "m-1", text("hello"))
	if first.BotState != genesys.BotStateMoreData || rawAgain != raw || asked.Load() != 1 {
		t.Fatalf("retry: asked %d times, first %s, retry %s", asked.Load(), raw, rawAgain)
	}

	// A retry while the bot still thinks: it waits for the first attempt's
	// answer and gets it, and the bot is asked once.
	answers := make(chan string, 2)
	go func() {
		_, _, raw := turnWithID(t, e.BotConnectorURL, bcCredential, "session-r", "m-2", text("slow"))
		answers <- raw
	}()
	<-askedOnce // the hello
	<-askedOnce // the slow one reached the bot
	go func() {
		_, _, raw := turnWithID(t, e.BotConnectorURL, bcCredential, "session-r", "m-2", text("slow"))
		answers <- raw
	}()
	close(release)
	a, b := <-answers, <-answers
	if a != b || !strings.Contains(a, "answer 2 to slow") || asked.Load() != 2 {
		t.Fatalf("retry while the bot thinks: asked %d times, answers %s and %s", asked.Load(), a, b)
	}

	id := onlyConversation(t, f)
	_, detail := f.api(http.MethodGet, strings.Replace(paths.APIConversation, ":id", itoa(id), 1), nil)
	if n := strings.Count(detail, "answer 1 to hello"); n != 1 {
		t.Errorf("the retried turn's answer is %d times on the timeline: %s", n, detail)
	}

	// A retried Complete repeats the handover; it does not start a session
	// again. (Another session: a session may send 5 turns a second.)
	_, done, raw := turnWithID(t, e.BotConnectorURL, bcCredential, "session-c", "m-3", text("person"))
	_, _, rawAgain = turnWithID(t, e.BotConnectorURL, bcCredential, "session-c", "m-3", text("person"))
	if done.BotState != genesys.BotStateComplete || rawAgain != raw || asked.Load() != 3 {
		t.Fatalf("retried Complete: asked %d times, %s then %s", asked.Load(), raw, rawAgain)
	}
	if _, list := f.api(http.MethodGet, paths.APIConversations, nil); strings.Count(list, "botconnector:session-c") != 1 {
		t.Fatalf("the retried Complete started another conversation: %s", list)
	}
	// Another session's turn with the same messageId is its own turn.
	_, other, _ := turnWithID(t, e.BotConnectorURL, bcCredential, "session-other", "m-1", text("hello"))
	if asked.Load() != 4 || other.ReplyMessages[0].Text != "answer 4 to hello" {
		t.Fatalf("another session's m-1: asked %d times, %+v", asked.Load(), other)
	}
}

func TestABotThatCompletesWithoutAPersonAnswersCompleteWithItsIntent(t *testing.T) {
	f := startFull(t)
	bot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in relay.BotTurn
		_ = json.NewDecoder(r.Body).Decode(&in)
		reply := relay.BotReply{Replies: []relay.BotMessage{{Text: "Your balance is 42."}}, Complete: in.Text == "balance", Intent: "balance_told",
			Parameters: map[string]string{"balance": "42"}}
		if in.Text == "both" {
			// Handover wins over complete.
			reply = relay.BotReply{Replies: []relay.BotMessage{{Text: "A person then."}}, Complete: true, Handover: true, Intent: "balance_told"}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(reply)
	}))
	t.Cleanup(bot.Close)
	e := f.createBotConnectorEndpoint(t, map[string]any{"botUrl": bot.URL + "/turn", "skills": []string{"Billing"}})

	status, resp, raw := turn(t, e.BotConnectorURL, bcCredential, "session-done", text("balance"))
	if status != http.StatusOK || resp.BotState != genesys.BotStateComplete || resp.Intent != "balance_told" || resp.Parameters["balance"] != "42" ||
		resp.ReplyMessages[0].Text != "Your balance is 42." {
		t.Fatalf("complete: %d %s", status, raw)
	}
	if _, ok := resp.Parameters["skills"]; ok {
		t.Fatalf("a Complete without a person carries the handover defaults: %s", raw)
	}
	_, list := f.api(http.MethodGet, paths.APIConversations, nil)
	if !strings.Contains(list, `"state":"ended"`) || !strings.Contains(list, "bot_complete") {
		t.Fatalf("the session does not end on Complete: %s", list)
	}
	// Without complete the turn goes on; with both, it is a handover.
	_, resp, raw = turn(t, e.BotConnectorURL, bcCredential, "session-more", text("hello"))
	if resp.BotState != genesys.BotStateMoreData || resp.Intent != "balance_told" {
		t.Fatalf("without complete: %s", raw)
	}
	_, resp, raw = turn(t, e.BotConnectorURL, bcCredential, "session-both", text("both"))
	if resp.BotState != genesys.BotStateComplete || resp.Intent != relay.IntentHandover || resp.Parameters["skills"] != "Billing" {
		t.Fatalf("complete and handover: %s", raw)
	}
}
