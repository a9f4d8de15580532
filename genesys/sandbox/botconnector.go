package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/handover-relay/handover/genesys"
)

// The sandbox plays Genesys's side of the Bot Connector (docs/genesys.md
// §BotConnector): integrations that know a Handle Utterance URI and a
// credential header, the bot list a provider PUTs into each, and an
// Architect-like bot flow on the agent desk that posts customer turns and,
// on Complete with the intent handover, transfers to ACD: the conversation
// waits in a sandbox queue for the agent at the desk. A bot flow routed
// through an Open Messaging integration (RouteBotFlow) runs inside a
// messaging conversation of it, as Architect's inbound message flow does, so
// the agent's answers go to that integration's webhook.

// botConnectorTimeout is how long the bot flow waits for a turn's answer:
// the ten seconds Genesys is understood to wait.
const botConnectorTimeout = 10 * time.Second

// intentHandover is the intent the bot flow transfers to ACD on.
const intentHandover = "handover"

// BotConnectorIntegration is a Genesys Bot Connector integration: where its
// turns go and the credential header sent with each.
type BotConnectorIntegration struct {
	ID, Name           string
	HandleUtteranceURI string
	CredentialHeader   string
	CredentialValue    string
	// MessagingIntegrationID is the Open Messaging integration whose
	// inbound message flow calls this Bot Connector (Architect's message
	// routing); "" when the flow's customer is Genesys's own.
	MessagingIntegrationID string
}

// BotFlowTurn is one turn of the desk's bot flow as it went.
type BotFlowTurn struct {
	Customer string
	Replies  []string
	BotState string
	Intent   string
	Error    string // errorInfo, or why the call failed
	// ConversationID is the desk conversation a handover made.
	ConversationID string
}

// botFlow is a running bot flow: one bot session with its turns.
type botFlow struct {
	sessionID, conversationID string
	turns                     []BotFlowTurn
	done                      bool
}

// botConnectors is the Bot Connector state, apart from the Open Messaging
// state and its lock: nothing is shared between the two but the queues.
type botConnectors struct {
	mu           sync.Mutex
	integrations []BotConnectorIntegration
	lists        map[string]genesys.BotList // integration id → the bot list PUT last
	flows        map[string]*botFlow        // integration id → the desk's bot flow
}

// AddBotConnectorIntegration installs a Bot Connector integration whose
// turns go to uri with the credential header name: value.
func (s *Sandbox) AddBotConnectorIntegration(name, uri, header, value string) BotConnectorIntegration {
	in := BotConnectorIntegration{ID: uuid.NewString(), Name: name, HandleUtteranceURI: uri, CredentialHeader: header, CredentialValue: value}
	s.bots.mu.Lock()
	defer s.bots.mu.Unlock()
	s.bots.integrations = append(s.bots.integrations, in)
	return in
}

// RouteBotFlow routes the Open Messaging integration messagingID to the bot
// flow of the Bot Connector integration botConnectorID, as Architect's
// message routing attaches an inbound message flow to an integration: the
// flow's customer is then an Open Messaging customer of it, named to the bot
// in the parameter openMessagingCustomerId, and a handover is a messaging
// conversation whose agent answers go out as its webhooks.
// An empty messagingID routes nothing to it: the flow's customer is
// Genesys's own again.
func (s *Sandbox) RouteBotFlow(botConnectorID, messagingID string) error {
	s.mu.Lock()
	in := s.integrationLocked(messagingID)
	ok := messagingID == "" || (in != nil && !in.deskOnly)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("open messaging integration %s: %w", messagingID, ErrNotFound)
	}
	s.bots.mu.Lock()
	defer s.bots.mu.Unlock()
	for i := range s.bots.integrations {
		if s.bots.integrations[i].ID == botConnectorID {
			s.bots.integrations[i].MessagingIntegrationID = messagingID
			return nil
		}
	}
	return fmt.Errorf("bot connector integration %s: %w", botConnectorID, ErrNotFound)
}

// BotConnectorIntegrations lists the installed Bot Connector integrations.
func (s *Sandbox) BotConnectorIntegrations() []BotConnectorIntegration {
	s.bots.mu.Lock()
	defer s.bots.mu.Unlock()
	return slices.Clone(s.bots.integrations)
}

// BotList is the bot list last PUT into the integration, and whether one was.
func (s *Sandbox) BotList(integrationID string) (genesys.BotList, bool) {
	s.bots.mu.Lock()
	defer s.bots.mu.Unlock()
	l, ok := s.bots.lists[integrationID]
	return l, ok
}

func (s *Sandbox) botIntegration(id string) (BotConnectorIntegration, bool) {
	s.bots.mu.Lock()
	defer s.bots.mu.Unlock()
	for _, in := range s.bots.integrations {
		if in.ID == id {
			return in, true
		}
	}
	return BotConnectorIntegration{}, false
}

// putBotList answers PUT /api/v2/textbots/botconnector/integrations/:integrationId/bots:
// the body must match the BotList definition and the models' documented
// limits (genesys.BotList.Validate), or it is a 400 as from Genesys.
func (s *Sandbox) putBotList(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("integrationId"))
	if _, ok := s.botIntegration(id); !ok {
		return s.apiError(c, fiber.StatusNotFound, "not.found", fmt.Sprintf("Bot Connector integration %s not found", id))
	}
	body := slices.Clone(c.Body())
	if err := s.spec.ValidateRequestBody("BotList", body); err != nil {
		return s.apiError(c, fiber.StatusBadRequest, "bad.request", err.Error())
	}
	var list genesys.BotList
	if err := json.Unmarshal(body, &list); err != nil {
		return s.apiError(c, fiber.StatusBadRequest, "bad.request", "body does not match BotList: "+err.Error())
	}
	if err := list.Validate(); err != nil {
		return s.apiError(c, fiber.StatusBadRequest, "bad.request", err.Error())
	}
	s.bots.mu.Lock()
	if s.bots.lists == nil {
		s.bots.lists = map[string]genesys.BotList{}
	}
	s.bots.lists[id] = list
	s.bots.mu.Unlock()
	return c.SendStatus(fiber.StatusOK)
}

// RunBotFlowTurn plays the Architect flow's Call Bot Connector action for one
// customer turn of the integration's running bot flow (a new one after the
// last ended). On Complete with the intent handover the flow transfers to
// ACD: a desk conversation waits in the queue the parameters name (or the
// first), with the flow's turns as its transcript.
func (s *Sandbox) RunBotFlowTurn(ctx context.Context, integrationID, text string) (BotFlowTurn, error) {
	in, ok := s.botIntegration(integrationID)
	if !ok {
		return BotFlowTurn{}, fmt.Errorf("bot connector integration %s: %w", integrationID, ErrNotFound)
	}
	s.bots.mu.Lock()
	if s.bots.flows == nil {
		s.bots.flows = map[string]*botFlow{}
	}
	flow := s.bots.flows[integrationID]
	if flow == nil || flow.done {
		flow = &botFlow{sessionID: uuid.NewString(), conversationID: uuid.NewString()}
		s.bots.flows[integrationID] = flow
	}
	botID, version := s.registeredBotLocked(integrationID)
	s.bots.mu.Unlock()

	params := map[string]string{}
	if in.MessagingIntegrationID != "" {
		params[paramOpenMessagingCustomerID] = botFlowCustomerID(flow.sessionID)
	}
	req := genesys.BotConnectorRequest{BotID: botID, BotVersion: version, BotSessionID: flow.sessionID, MessageID: uuid.NewString(),
		InputMessage: genesys.BotConnectorInput{Type: genesys.BotInputText, Text: text}, LanguageCode: "en-us",
		BotSessionTimeout: json.RawMessage("720"), GenesysConversationID: flow.conversationID, Parameters: params}
	turn := BotFlowTurn{Customer: text}
	resp, err := s.postTurn(ctx, in, req)
	if err != nil {
		turn.BotState, turn.Error = genesys.BotStateFailed, err.Error()
	} else {
		turn.BotState, turn.Intent = resp.BotState, resp.Intent
		for _, m := range resp.ReplyMessages {
			turn.Replies = append(turn.Replies, m.Text)
		}
		if resp.ErrorInfo != nil {
			turn.Error = resp.ErrorInfo.ErrorCode + ": " + resp.ErrorInfo.ErrorMessage
		}
	}
	s.bots.mu.Lock()
	flow.turns = append(flow.turns, turn)
	turns := slices.Clone(flow.turns)
	if turn.BotState != genesys.BotStateMoreData {
		flow.done = true
	}
	s.bots.mu.Unlock()
	if turn.BotState == genesys.BotStateComplete && turn.Intent == intentHandover {
		turn.ConversationID = s.transferBotFlow(in, flow.sessionID, flow.conversationID, turns, resp.Parameters)
		s.bots.mu.Lock()
		flow.turns[len(flow.turns)-1].ConversationID = turn.ConversationID
		s.bots.mu.Unlock()
	}
	return turn, nil
}

// paramOpenMessagingCustomerID is the turn parameter naming the flow's Open
// Messaging customer (relay.ParamOpenMessagingCustomerID: the sandbox does
// not import the relay).
const paramOpenMessagingCustomerID = "openMessagingCustomerId"

// botFlowCustomerID is the Open Messaging customer id of a routed bot
// flow's session: one customer per session, as the desk plays a new
// customer for each.
func botFlowCustomerID(sessionID string) string { return "botflow-" + sessionID }

// registeredBotLocked is the first bot of the integration's bot list, as
// the flow's Call Bot Connector action would name it.
func (s *Sandbox) registeredBotLocked(integrationID string) (id, version string) {
	l, ok := s.bots.lists[integrationID]
	if !ok || len(l.ChatBots) == 0 || len(l.ChatBots[0].Versions) == 0 {
		return "unregistered", "1"
	}
	return l.ChatBots[0].ID, l.ChatBots[0].Versions[0].Version
}

// postTurn posts one turn with the integration's credential header.
func (s *Sandbox) postTurn(ctx context.Context, in BotConnectorIntegration, req genesys.BotConnectorRequest) (genesys.BotConnectorResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, botConnectorTimeout)
	defer cancel()
	body, err := json.Marshal(req)
	if err != nil {
		return genesys.BotConnectorResponse{}, err
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, in.HandleUtteranceURI, bytes.NewReader(body))
	if err != nil {
		return genesys.BotConnectorResponse{}, err
	}
	r.Header.Set("Content-Type", "application/json")
	if in.CredentialHeader != "" {
		r.Header.Set(in.CredentialHeader, in.CredentialValue)
	}
	resp, err := s.http.Do(r)
	if err != nil {
		return genesys.BotConnectorResponse{}, fmt.Errorf("post the turn: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return genesys.BotConnectorResponse{}, fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return genesys.BotConnectorResponse{}, fmt.Errorf("the Handle Utterance URI answered %d: %s", resp.StatusCode, strings.TrimSpace(string(data)))
	}
	var out genesys.BotConnectorResponse
	if err := json.Unmarshal(data, &out); err != nil {
		return genesys.BotConnectorResponse{}, fmt.Errorf("the answer is no Bot Connector response: %w", err)
	}
	switch out.BotState {
	case genesys.BotStateMoreData, genesys.BotStateComplete, genesys.BotStateFailed:
	default:
		return genesys.BotConnectorResponse{}, fmt.Errorf("the answer's botState %q is none of MoreData, Complete, Failed", out.BotState)
	}
	return out, nil
}

// transferBotFlow is the flow's Transfer to ACD after the bot: the
// conversation waits in the queue, with the parameters as participant data
// and the flow's turns as its transcript. Routed through an Open Messaging
// integration, it is a messaging conversation of that integration with the
// id the turns carried as genesysConversationId (Transfer to ACD keeps the
// conversation), so the agent's answers go out as its webhooks; otherwise a
// desk-only one (the customer is Genesys's own, so nothing is sent to an
// Open Messaging webhook).
func (s *Sandbox) transferBotFlow(bc BotConnectorIntegration, sessionID, conversationID string, turns []BotFlowTurn, params map[string]string) string {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.integrationLocked(bc.MessagingIntegrationID)
	if in == nil || in.deskOnly || s.convs[conversationID] != nil {
		in = s.integrationLocked(bc.ID)
		conversationID = uuid.NewString()
	}
	if in == nil {
		in = &integration{Integration: genesys.Integration{ID: bc.ID, Name: bc.Name, Status: "Active"}, deskOnly: true}
		s.deskIntegrations = append(s.deskIntegrations, in)
	}
	attrs := map[string]string{}
	for k, v := range params {
		attrs[k] = v
	}
	conv := s.startConversationWithIDLocked(conversationID, in, genesys.Recipient{ID: botFlowCustomerID(sessionID), IDType: genesys.IDTypeOpaque, Nickname: "Bot flow customer"}, attrs, now)
	for _, t := range turns {
		conv.Messages = append(conv.Messages, Message{ID: genesysID(), Direction: genesys.DirectionInbound, Type: "Text", Text: t.Customer, From: "Bot flow customer", Time: now})
		for _, r := range t.Replies {
			conv.Messages = append(conv.Messages, Message{ID: genesysID(), Direction: genesys.DirectionOutbound, Type: "Text", Text: r, From: bc.Name, OriginatingEntity: originatingBot, Time: now})
		}
	}
	s.changedLocked(conv)
	s.log.Info("bot flow transferred to ACD", slog.String("conversation_id", conv.ID), slog.String("queue_id", conv.QueueID))
	return conv.ID
}

// botFlowView is the desk's view of one Bot Connector integration.
type botFlowView struct {
	ID, Name, URI string
	Bot           string // the registered bot, in words
	Turns         []BotFlowTurn
	Done          bool
	// Routing offers the Open Messaging integrations whose inbound
	// message flow may run this bot flow, the one that does selected.
	Routing []deskChoice
}

func (s *Sandbox) botFlowViews() []botFlowView {
	// The Open Messaging integrations first, under their own lock: the two
	// locks are never held together.
	var messaging []deskChoice
	s.mu.Lock()
	for _, in := range s.integrations {
		messaging = append(messaging, deskChoice{Value: in.ID, Label: in.Name + " (" + in.ID + ")"})
	}
	s.mu.Unlock()
	s.bots.mu.Lock()
	defer s.bots.mu.Unlock()
	var out []botFlowView
	for _, in := range s.bots.integrations {
		v := botFlowView{ID: in.ID, Name: in.Name, URI: in.HandleUtteranceURI, Bot: "No bot registered yet (Register bot on the endpoint)."}
		v.Routing = []deskChoice{{Value: "", Label: "None: the customer is Genesys's own (desk only)", Selected: in.MessagingIntegrationID == ""}}
		for _, m := range messaging {
			m.Selected = m.Value == in.MessagingIntegrationID
			v.Routing = append(v.Routing, m)
		}
		if l, ok := s.bots.lists[in.ID]; ok && len(l.ChatBots) > 0 {
			b := l.ChatBots[0]
			var intents []string
			for _, ver := range b.Versions {
				for _, i := range ver.Intents {
					intents = append(intents, i.Name)
				}
			}
			v.Bot = fmt.Sprintf("%s (%s), intents: %s", b.Name, b.ID, strings.Join(intents, ", "))
		}
		if f := s.bots.flows[in.ID]; f != nil {
			v.Turns, v.Done = slices.Clone(f.turns), f.done
		}
		out = append(out, v)
	}
	return out
}

// deskBotFlow answers the desk's bot flow form: one customer turn.
func (s *Sandbox) deskBotFlow(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	base := mountBase(c)
	if _, err := s.RunBotFlowTurn(c.UserContext(), id, formValue(c, "text")); err != nil {
		v := s.deskViewFor(c, base, "")
		v.Error = err.Error()
		status := fiber.StatusUnprocessableEntity
		if errors.Is(err, ErrNotFound) {
			status = fiber.StatusNotFound
		}
		return render(c, status, deskPage(v))
	}
	return c.Redirect(base+"/desk#bot-flows", fiber.StatusSeeOther)
}

// deskRouteBotFlow answers the desk's message routing form: which Open
// Messaging integration's inbound message flow runs the bot flow.
func (s *Sandbox) deskRouteBotFlow(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	base := mountBase(c)
	if err := s.RouteBotFlow(id, formValue(c, "integration")); err != nil {
		v := s.deskViewFor(c, base, "")
		v.Error = err.Error()
		return render(c, fiber.StatusNotFound, deskPage(v))
	}
	return c.Redirect(base+"/desk#bot-flows", fiber.StatusSeeOther)
}

// deskInstallBotConnector installs a Bot Connector integration from the
// desk, as an admin does in Genesys: the Handle Utterance URI and the
// credential header an endpoint's page shows.
func (s *Sandbox) deskInstallBotConnector(c *fiber.Ctx) error {
	base := mountBase(c)
	name, uri, header, value := formValue(c, "name"), formValue(c, "uri"), formValue(c, "header"), formValue(c, "value")
	if u, err := url.Parse(uri); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.TrimSpace(name) == "" || strings.TrimSpace(header) == "" || value == "" {
		v := s.deskViewFor(c, base, "")
		v.Error = "Enter a name, an http(s) Handle Utterance URI, a credential header and its value."
		return render(c, fiber.StatusUnprocessableEntity, deskPage(v))
	}
	s.AddBotConnectorIntegration(strings.TrimSpace(name), uri, strings.TrimSpace(header), value)
	return c.Redirect(base+"/desk#bot-flows", fiber.StatusSeeOther)
}
