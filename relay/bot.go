package relay

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/store"
)

// Every endpoint has a bot: the built-in demo bot, or an external one at the
// endpoint's Bot URL, which Handover asks for each turn (docs/genesys.md
// §BotConnector, openapi.json BotTurn and BotReply). The demo web chat and
// Genesys's Bot Connector both talk to it.

// BotTurn is what Handover posts to an external bot: one user turn.
type BotTurn struct {
	SessionID  string            `json:"sessionId"`
	UserID     string            `json:"userId"`
	Text       string            `json:"text"`
	Language   string            `json:"language"`
	Parameters map[string]string `json:"parameters"`
}

// BotReply is a bot's answer to a turn. Handover true means the user asked
// for a person: the turn completes with the intent IntentHandover. Complete
// true means the bot finished without a person: the turn completes with the
// bot's intent, for the flow to branch on; Handover wins when both are set.
type BotReply struct {
	Replies    []BotMessage      `json:"replies"`
	Handover   bool              `json:"handover"`
	Complete   bool              `json:"complete,omitempty"`
	Intent     string            `json:"intent,omitempty"`
	Parameters map[string]string `json:"parameters,omitempty"`
}

// BotMessage is one message of a bot's answer.
type BotMessage struct {
	Text         string   `json:"text"`
	QuickReplies []string `json:"quickReplies,omitempty"`
}

// IntentHandover is the intent of a turn answered Complete because the user
// asked for a person; a flow branches on it to Transfer to ACD.
const IntentHandover = "handover"

// ErrBotFailed: the endpoint's bot gave no usable answer (unreachable, too
// slow, an error status, a body that is no BotReply).
var ErrBotFailed = errors.New("the endpoint's bot did not answer")

// Bot Connector session ids carry this prefix in the conversations table, so
// that they never meet a bot API session of the same endpoint.
const botConnectorSessionPrefix = "botconnector:"

// Limits of what Handover reads from an external bot.
const (
	maxBotReplyBytes = 256 << 10
	maxBotReplies    = 20
)

// AskBot asks the endpoint's bot for its answer to a turn, within the bot
// timeout (Config.BotTimeout).
func (r *Relay) AskBot(ctx context.Context, e store.Endpoint, turn BotTurn) (BotReply, error) {
	if turn.Parameters == nil {
		turn.Parameters = map[string]string{}
	}
	if e.BotURL == "" {
		return builtinBotReply(turn.Text), nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.BotTimeout)
	defer cancel()
	body, err := json.Marshal(turn)
	if err != nil {
		return BotReply{}, fmt.Errorf("encode bot turn: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.BotURL, bytes.NewReader(body))
	if err != nil {
		return BotReply{}, botFailed("bot_url", "The Bot URL cannot be called: %v", withoutURLSecrets(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if e.BotWebhookSecret != "" {
		// Signed as the endpoint's event webhooks are (Standard Webhooks),
		// so the bot knows a turn comes from Handover.
		now, id := r.store.Now(), "turn_"+secret.NewToken(16)
		signature, err := SignBotEvent(e.BotWebhookSecretsAt(now), id, now, body)
		if err != nil {
			return BotReply{}, botFailed("bot_url", "The turn cannot be signed: %v", err)
		}
		setSignatureHeaders(req.Header, id, now, signature)
	}
	resp, err := r.cfg.BotHTTPClient.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return BotReply{}, botFailed("bot_timeout", "The bot did not answer within %s.", r.cfg.BotTimeout)
		}
		return BotReply{}, botFailed("bot_unreachable", "The bot at the Bot URL could not be reached: %v", withoutURLSecrets(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBotReplyBytes+1))
	switch {
	case err != nil:
		return BotReply{}, botFailed("bot_unreachable", "The bot's answer could not be read: %v", err)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return BotReply{}, botFailed("bot_error", "The bot answered with HTTP status %d.", resp.StatusCode)
	case len(data) > maxBotReplyBytes:
		return BotReply{}, botFailed("bot_bad_reply", "The bot's answer is larger than %d KB.", maxBotReplyBytes>>10)
	}
	var reply BotReply
	if err := json.Unmarshal(data, &reply); err != nil {
		return BotReply{}, botFailed("bot_bad_reply", "The bot's answer is not a BotReply JSON object: %v", err)
	}
	if len(reply.Replies) > maxBotReplies {
		return BotReply{}, botFailed("bot_bad_reply", "The bot's answer has %d replies; at most %d are relayed.", len(reply.Replies), maxBotReplies)
	}
	return reply, nil
}

func botFailed(code, format string, args ...any) *Error {
	return refuse(ErrBotFailed, code, format, args...)
}

// builtinBotReply is the built-in demo bot: the smallest bot that shows the
// product. It hands over when the user asks for an agent or a human.
func builtinBotReply(text string) BotReply {
	if asksForAgent.MatchString(text) {
		return BotReply{Replies: []BotMessage{{Text: "One moment, I am connecting you with an agent."}}, Handover: true, Intent: IntentHandover}
	}
	answer := "I am the Handover demo bot. I cannot help with much myself, but type \"agent\" and I will hand you over to a human."
	if strings.TrimSpace(text) == "" {
		answer = "Hello! Type \"agent\" to talk to a human."
	}
	return BotReply{Replies: []BotMessage{{Text: answer, QuickReplies: []string{"Talk to an agent"}}}}
}

// BuiltinBotIntents are the intents the built-in bot completes with; an
// external bot's are IntentHandover too, the one Handover knows.
var BuiltinBotIntents = []string{IntentHandover}

// BotConnectorTurn answers one customer turn that Genesys's Bot Connector
// posted: it asks the endpoint's bot within the bot timeout, keeps the turn
// on the session's conversation timeline (live in the console), and says
// MoreData while the conversation goes on, Complete with the intent
// IntentHandover and the routing parameters when the user asked for a
// person, Failed with errorInfo when the bot gave no answer. Only a request
// that is no turn is refused (ErrInvalidInput).
//
// Genesys retries a turn (the same botSessionId and messageId) when the
// answer is slow or lost: a retry gets the answer the first attempt gave,
// from any instance, without asking the bot again or repeating the turn on
// the timeline; while the first attempt still asks the bot, the retry waits
// for its answer.
func (r *Relay) BotConnectorTurn(ctx context.Context, e store.Endpoint, req genesys.BotConnectorRequest) (genesys.BotConnectorResponse, error) {
	text := req.InputMessage.UserText()
	if err := validateBotConnectorTurn(req, text); err != nil {
		return genesys.BotConnectorResponse{}, err
	}
	if req.MessageID == "" {
		// Nothing names a retry: every request is a turn.
		return r.answerBotConnectorTurn(ctx, e, req, text)
	}
	now := r.store.Now()
	earlier, claimed, err := r.store.ClaimBotConnectorTurn(ctx, e.ID, req.BotSessionID, req.MessageID, now, now.Add(-botTurnMemory))
	if err != nil {
		return genesys.BotConnectorResponse{}, err
	}
	if !claimed {
		resp, ok, err := r.earlierBotConnectorAnswer(ctx, e, req, earlier)
		if err != nil || ok {
			if ok {
				r.log.InfoContext(ctx, "bot connector turn retried: answered as before", slog.Int64("endpoint_id", e.ID), slog.String("message_id", req.MessageID))
			}
			return resp, err
		}
		// The attempt that claimed it never answered (its instance
		// stopped, or it failed): this one answers.
	}
	// Finished even when Genesys stops waiting (the bot timeout bounds it):
	// its retry is then answered with what the bot said, not with a
	// cancellation recorded as the bot's failure.
	ctx = context.WithoutCancel(ctx)
	resp, err := r.answerBotConnectorTurn(ctx, e, req, text)
	if err != nil {
		if relErr := r.store.ReleaseBotConnectorTurn(ctx, e.ID, req.BotSessionID, req.MessageID); relErr != nil {
			r.log.WarnContext(ctx, "bot connector turn not released", slog.Any("error", relErr))
		}
		return resp, err
	}
	data, err := json.Marshal(resp)
	if err == nil {
		err = r.store.SetBotConnectorTurnAnswer(ctx, e.ID, req.BotSessionID, req.MessageID, string(data))
	}
	if err != nil {
		// The turn is answered and recorded; only a retry would ask again.
		r.log.WarnContext(ctx, "bot connector answer not kept for retries", slog.Int64("endpoint_id", e.ID), slog.Any("error", err))
	}
	return resp, nil
}

// botTurnMemory is how long a turn's answer is kept for Genesys's retries,
// which come within seconds: long enough for any retry, short enough that
// the table holds only recent turns.
const botTurnMemory = time.Hour

// earlierBotConnectorAnswer is the answer an earlier attempt gave the turn,
// waiting for it while that attempt still asks the bot, at most the bot
// timeout and a little; ok is false when no answer came.
func (r *Relay) earlierBotConnectorAnswer(ctx context.Context, e store.Endpoint, req genesys.BotConnectorRequest, answer string) (genesys.BotConnectorResponse, bool, error) {
	deadline := time.NewTimer(r.cfg.BotTimeout + 2*time.Second)
	defer deadline.Stop()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for answer == "" {
		select {
		case <-ctx.Done():
			return genesys.BotConnectorResponse{}, false, ctx.Err()
		case <-deadline.C:
			return genesys.BotConnectorResponse{}, false, nil
		case <-poll.C:
		}
		var err error
		answer, err = r.store.BotConnectorTurnAnswer(ctx, e.ID, req.BotSessionID, req.MessageID)
		if errors.Is(err, store.ErrNotFound) {
			return genesys.BotConnectorResponse{}, false, nil // released: answer afresh
		}
		if err != nil {
			return genesys.BotConnectorResponse{}, false, err
		}
	}
	var resp genesys.BotConnectorResponse
	if err := json.Unmarshal([]byte(answer), &resp); err != nil {
		return genesys.BotConnectorResponse{}, false, fmt.Errorf("decode the kept answer of turn %q: %w", req.MessageID, err)
	}
	return resp, true, nil
}

// answerBotConnectorTurn asks the bot for one turn and records it.
func (r *Relay) answerBotConnectorTurn(ctx context.Context, e store.Endpoint, req genesys.BotConnectorRequest, text string) (genesys.BotConnectorResponse, error) {
	conv, err := r.botConnectorConversation(ctx, e, req)
	if err != nil {
		return genesys.BotConnectorResponse{}, err
	}
	now := r.store.Now()
	user := store.Message{ConversationID: conv.ID, EndpointID: e.ID, SessionID: conv.SessionID, Direction: store.FromUser, Kind: store.KindText, Text: text,
		Data: store.MessageData{Custom: map[string]any{"messageId": req.MessageID}}, CreatedAt: now}
	if err := r.store.InsertMessage(ctx, &user); err != nil {
		return genesys.BotConnectorResponse{}, err
	}
	language := cmp.Or(req.LanguageCode, e.DefaultLanguage)
	reply, askErr := r.AskBot(ctx, e, BotTurn{SessionID: req.BotSessionID, UserID: req.GenesysConversationID, Text: text, Language: language, Parameters: req.Parameters})
	resp := botConnectorResponse(e, language, reply, askErr)
	if askErr != nil {
		r.log.WarnContext(ctx, "bot connector turn failed", slog.Int64("endpoint_id", e.ID), slog.Int64("conversation_id", conv.ID), slog.Any("error", askErr))
	}
	if err := r.recordBotConnectorAnswer(ctx, e, conv, resp, openMessagingCustomer(e, req)); err != nil {
		return genesys.BotConnectorResponse{}, err
	}
	r.obs.BotConnectorTurn(resp.BotState)
	return resp, nil
}

// botConnectorResponse turns the bot's answer (or its failure) into what
// Genesys reads.
func botConnectorResponse(e store.Endpoint, language string, reply BotReply, askErr error) genesys.BotConnectorResponse {
	if askErr != nil {
		code, message := "bot_failed", askErr.Error()
		if relayErr, ok := errors.AsType[*Error](askErr); ok {
			code = relayErr.Code
		}
		return genesys.BotConnectorResponse{BotState: genesys.BotStateFailed, ReplyMessages: []genesys.BotConnectorReply{},
			ErrorInfo: &genesys.BotConnectorErrorInfo{ErrorCode: code, ErrorMessage: message}}
	}
	resp := genesys.BotConnectorResponse{BotState: genesys.BotStateMoreData, ReplyMessages: []genesys.BotConnectorReply{}, Intent: reply.Intent, Parameters: map[string]string{}}
	for _, m := range reply.Replies {
		resp.ReplyMessages = append(resp.ReplyMessages, genesys.NewBotConnectorReply(m.Text, m.QuickReplies))
	}
	for k, v := range reply.Parameters {
		resp.Parameters[k] = v
	}
	if reply.Complete && !reply.Handover {
		// The bot is done and nobody is needed: the flow goes on with the
		// bot's intent and parameters (its own, no handover defaults).
		resp.BotState = genesys.BotStateComplete
	}
	if reply.Handover {
		// What the flow's Transfer to ACD reads: the bot's values first,
		// the endpoint's handover defaults where it gave none.
		resp.BotState, resp.Intent = genesys.BotStateComplete, IntentHandover
		setDefault := func(key, value string) {
			if resp.Parameters[key] == "" && value != "" {
				resp.Parameters[key] = value
			}
		}
		setDefault("language", language)
		setDefault("skills", strings.Join(e.DefaultSkills, ","))
		setDefault("priority", strconv.Itoa(e.DefaultPriority))
		setDefault("queueId", e.QueueID)
	}
	if resp.Intent != "" {
		confidence := 1.0 // the bot decided; Handover has no score of its own
		resp.Confidence = &confidence
	}
	return resp
}

// validateBotConnectorTurn refuses a request that is no Bot Connector turn.
func validateBotConnectorTurn(req genesys.BotConnectorRequest, text string) error {
	switch {
	case strings.TrimSpace(req.BotSessionID) == "":
		return refuseField("botSessionId", "missing_bot_session_id", "botSessionId is required.")
	case utf8.RuneCountInString(req.BotSessionID) > 200:
		return refuseField("botSessionId", "invalid_bot_session_id", "botSessionId may have at most 200 characters.")
	case !strings.EqualFold(req.InputMessage.Type, genesys.BotInputText) && !strings.EqualFold(req.InputMessage.Type, genesys.BotInputStructured):
		return refuseField("inputMessage.type", "invalid_input_message", "inputMessage.type must be %q or %q.", genesys.BotInputText, genesys.BotInputStructured)
	case utf8.RuneCountInString(text) > genesys.MaxTextRunes:
		return refuse(ErrTooLong, "text_too_long", "The text has %d characters; at most %d are accepted.", utf8.RuneCountInString(text), genesys.MaxTextRunes)
	}
	for field, value := range map[string]string{"botSessionId": req.BotSessionID, "inputMessage.text": text, "genesysConversationId": req.GenesysConversationID, "languageCode": req.LanguageCode} {
		if err := refuseNUL(field, value); err != nil {
			return err
		}
	}
	return nil
}

// botConnectorConversation is the session's open conversation, started on
// its first turn.
func (r *Relay) botConnectorConversation(ctx context.Context, e store.Endpoint, req genesys.BotConnectorRequest) (store.Conversation, error) {
	sessionID := botConnectorSessionPrefix + req.BotSessionID
	conv, err := r.store.OpenConversation(ctx, e.ID, sessionID)
	if !errors.Is(err, store.ErrNotFound) {
		return conv, err
	}
	// The Genesys conversation id is kept as an attribute, not as the
	// conversation's GenesysConversationID: that one makes end detection
	// poll Genesys, and this conversation is Genesys's own.
	conv = store.Conversation{EndpointID: e.ID, SessionID: sessionID, UserID: req.GenesysConversationID, CustomerID: "botconnector-" + secret.NewToken(16),
		State: store.StateWithBot, Language: cmp.Or(req.LanguageCode, e.DefaultLanguage),
		CustomAttributes: map[string]string{"genesysConversationId": req.GenesysConversationID, "botId": req.BotID, "botVersion": req.BotVersion}}
	err = r.store.CreateConversation(ctx, &conv)
	if errors.Is(err, store.ErrConflict) {
		// Another instance started it with a turn of the same session.
		return r.store.OpenConversation(ctx, e.ID, sessionID)
	}
	if err != nil {
		return store.Conversation{}, err
	}
	r.publish(conv)
	return conv, nil
}

// ParamOpenMessagingCustomerID is the turn parameter in which the flow
// names the conversation's Open Messaging customer (channel.from.id of the
// inbound message that started it). With it, and an endpoint that also has
// an Open Messaging integration, a handover stays on Handover's timeline:
// the agent's webhooks, addressed to that customer, find the session's
// conversation (docs/genesys.md §BotConnector, "Handover over Open Messaging").
const ParamOpenMessagingCustomerID = "openMessagingCustomerId"

// openMessagingCustomer is the turn's Open Messaging customer when the
// endpoint can receive the agent's webhooks for it; "" otherwise.
func openMessagingCustomer(e store.Endpoint, req genesys.BotConnectorRequest) string {
	if e.Provider != store.ProviderGenesysCloudOM || e.IntegrationID == "" || req.GenesysConversationID == "" {
		return ""
	}
	return strings.TrimSpace(req.Parameters[ParamOpenMessagingCustomerID])
}

// recordBotConnectorAnswer keeps the bot's replies and the turn's botState
// on the timeline, and ends the conversation when the turn ends the bot's
// part, unless the flow transfers it to ACD over the endpoint's Open
// Messaging integration (omCustomer set): then it waits for the agent.
func (r *Relay) recordBotConnectorAnswer(ctx context.Context, e store.Endpoint, conv store.Conversation, resp genesys.BotConnectorResponse, omCustomer string) error {
	now := r.store.Now()
	for _, m := range resp.ReplyMessages {
		msg := store.Message{ConversationID: conv.ID, EndpointID: e.ID, SessionID: conv.SessionID, Direction: store.FromBot, Kind: store.KindText, Text: m.Text, CreatedAt: now}
		for _, c := range m.Content {
			if c.QuickReply != nil {
				msg.Data.QuickReplies = append(msg.Data.QuickReplies, store.QuickReply{Text: c.QuickReply.Text, Payload: c.QuickReply.Payload})
			}
		}
		if err := r.store.InsertMessage(ctx, &msg); err != nil {
			return err
		}
	}
	state := store.Message{ConversationID: conv.ID, EndpointID: e.ID, SessionID: conv.SessionID, Direction: store.FromSystem, Kind: store.KindState, CreatedAt: now,
		Data: store.MessageData{State: "botState " + resp.BotState, Reason: resp.Intent}}
	if resp.ErrorInfo != nil {
		state.Data.Reason = resp.ErrorInfo.ErrorCode + ": " + resp.ErrorInfo.ErrorMessage
	}
	if err := r.store.InsertMessage(ctx, &state); err != nil {
		return err
	}
	switch resp.BotState {
	case genesys.BotStateComplete:
		if omCustomer != "" && resp.Intent == IntentHandover {
			queued, err := r.store.QueueBotConnectorHandover(ctx, conv.ID, omCustomer, conv.CustomAttributes["genesysConversationId"])
			if err == nil && queued {
				break
			}
			if !errors.Is(err, store.ErrConflict) && err != nil {
				return err
			}
			// The customer id belongs to another conversation already: the
			// agent's webhooks would go there, so this one ends as without
			// Open Messaging.
			r.log.WarnContext(ctx, "bot connector handover not linked to its open messaging customer", slog.Int64("conversation_id", conv.ID), slog.Any("error", err))
		}
		if _, err := r.store.EndConversation(ctx, conv.ID, store.StateEnded, store.ReasonBotComplete, now); err != nil {
			return err
		}
	case genesys.BotStateFailed:
		if _, err := r.store.EndConversation(ctx, conv.ID, store.StateFailed, store.ReasonBotFailed, now); err != nil {
			return err
		}
	}
	r.publish(conv)
	return nil
}

// BotConnectorBot is the endpoint's bot as its Bot Connector integration's
// bot list shows it in Architect: one version, the endpoint's language, and
// the intents the bot completes with.
func BotConnectorBot(e store.Endpoint) genesys.BotConnectorBot {
	name := strings.TrimSpace(e.Name)
	if utf8.RuneCountInString(name) > 100 {
		name = strings.TrimSpace(string([]rune(name)[:100]))
	}
	description := "The built-in Handover demo bot."
	if e.BotURL != "" {
		description = "The bot at the endpoint's Bot URL, through Handover."
	}
	intents := make([]genesys.BotIntent, len(BuiltinBotIntents))
	for i, name := range BuiltinBotIntents {
		intents[i] = genesys.BotIntent{Name: name}
	}
	return genesys.BotConnectorBot{ID: fmt.Sprintf("handover-endpoint-%d", e.ID), Name: name, Description: description,
		Versions: []genesys.BotConnectorBotVersion{{Version: "1", SupportedLanguages: []string{strings.ToLower(cmp.Or(e.DefaultLanguage, "en-us"))}, Intents: intents}}}
}

// RegisterBot PUTs the endpoint's bot as the bot list of its Bot Connector
// integration, with the endpoint's OAuth client, so that Architect's Call
// Bot Connector action offers it. The list is the endpoint's bot alone: one
// integration serves one endpoint.
func (r *Relay) RegisterBot(ctx context.Context, e store.Endpoint) (genesys.BotConnectorBot, error) {
	if e.Type != store.TypeGenesysBotConnector {
		return genesys.BotConnectorBot{}, refuse(ErrGenesysSettings, "not_bot_connector", "The endpoint is not a Genesys Bot Connector endpoint.")
	}
	if e.BotConnectorIntegrationID == "" {
		return genesys.BotConnectorBot{}, refuse(ErrGenesysSettings, "no_bot_connector_integration", "Enter the Bot Connector integration ID on the endpoint first.")
	}
	c, err := r.client(e)
	if err != nil {
		return genesys.BotConnectorBot{}, refuse(ErrGenesysSettings, "no_oauth_client", "Enter the Host, Client ID and Client Secret of the OAuth client first: %v", err)
	}
	bot := BotConnectorBot(e)
	if err := c.client.PutBotConnectorBots(ctx, e.BotConnectorIntegrationID, genesys.BotList{ChatBots: []genesys.BotConnectorBot{bot}}); err != nil {
		return genesys.BotConnectorBot{}, fmt.Errorf("register the bot in Bot Connector integration %s: %w", e.BotConnectorIntegrationID, err)
	}
	r.log.InfoContext(ctx, "bot registered in bot connector integration", slog.Int64("endpoint_id", e.ID), slog.String("integration_id", e.BotConnectorIntegrationID))
	return bot, nil
}
