package genesys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// The Genesys Bot Connector contract (docs/genesys.md §BotConnector): an
// Architect flow's Call Bot Connector action posts each customer turn to the
// integration's Handle Utterance URI and waits for the bot's answer.

// Bot states a Bot Connector answer can carry.
const (
	BotStateMoreData = "MoreData" // the conversation with the bot goes on
	BotStateComplete = "Complete" // the bot is done: the flow takes over (e.g. Transfer to ACD)
	BotStateFailed   = "Failed"   // the bot could not answer; errorInfo says why
)

// Input message types of a turn.
const (
	BotInputText       = "Text"
	BotInputStructured = "Structured"
)

// BotConnectorRequest is one customer turn as Genesys posts it.
type BotConnectorRequest struct {
	BotID        string            `json:"botId"`
	BotVersion   string            `json:"botVersion"`
	BotSessionID string            `json:"botSessionId"`
	MessageID    string            `json:"messageId"`
	InputMessage BotConnectorInput `json:"inputMessage"`
	LanguageCode string            `json:"languageCode"`
	// BotSessionTimeout is documented as a number (minutes); read as it
	// comes, since nothing Handover does depends on it.
	BotSessionTimeout     json.RawMessage   `json:"botSessionTimeout,omitempty"`
	GenesysConversationID string            `json:"genesysConversationId"`
	Parameters            map[string]string `json:"parameters,omitempty"`
}

// BotConnectorInput is the customer's message of a turn.
type BotConnectorInput struct {
	Type    string                `json:"type"`
	Text    string                `json:"text,omitempty"`
	Content []BotConnectorContent `json:"content,omitempty"`
	// ButtonResponse outside content is tolerated: some integrations
	// document the quick reply answer there (docs/genesys.md §BotConnector).
	ButtonResponse *BotConnectorButtonResponse `json:"buttonResponse,omitempty"`
}

// BotConnectorContent is one structured item of a message: a quick reply the
// bot offers, or the customer's answer to one.
type BotConnectorContent struct {
	ContentType    string                      `json:"contentType"`
	QuickReply     *BotConnectorQuickReply     `json:"quickReply,omitempty"`
	ButtonResponse *BotConnectorButtonResponse `json:"buttonResponse,omitempty"`
}

// BotConnectorQuickReply is an option the customer can tap.
type BotConnectorQuickReply struct {
	Text    string `json:"text"`
	Payload string `json:"payload"`
	Action  string `json:"action,omitempty"`
}

// BotConnectorButtonResponse is the customer's tap on a quick reply.
type BotConnectorButtonResponse struct {
	Type    string `json:"type,omitempty"`
	Text    string `json:"text,omitempty"`
	Payload string `json:"payload,omitempty"`
}

// UserText is what the customer said: the text, or the payload (else the
// text) of the quick reply tapped.
func (in BotConnectorInput) UserText() string {
	responses := []*BotConnectorButtonResponse{in.ButtonResponse}
	for _, c := range in.Content {
		responses = append(responses, c.ButtonResponse)
	}
	for _, b := range responses {
		if b == nil {
			continue
		}
		if b.Payload != "" {
			return b.Payload
		}
		if b.Text != "" {
			return b.Text
		}
	}
	return in.Text
}

// BotConnectorResponse is the bot's answer to a turn.
type BotConnectorResponse struct {
	BotState      string                 `json:"botState"`
	ReplyMessages []BotConnectorReply    `json:"replyMessages"`
	Intent        string                 `json:"intent,omitempty"`
	Confidence    *float64               `json:"confidence,omitempty"`
	Parameters    map[string]string      `json:"parameters,omitempty"`
	ErrorInfo     *BotConnectorErrorInfo `json:"errorInfo,omitempty"`
}

// BotConnectorReply is one message the bot says.
type BotConnectorReply struct {
	Type    string                `json:"type"`
	Text    string                `json:"text,omitempty"`
	Content []BotConnectorContent `json:"content,omitempty"`
}

// BotConnectorErrorInfo says why a turn Failed.
type BotConnectorErrorInfo struct {
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
}

// NewBotConnectorReply is a text reply, Structured with quick replies when
// there are any.
func NewBotConnectorReply(text string, quickReplies []string) BotConnectorReply {
	if len(quickReplies) == 0 {
		return BotConnectorReply{Type: BotInputText, Text: text}
	}
	r := BotConnectorReply{Type: BotInputStructured, Text: text}
	for _, q := range quickReplies {
		r.Content = append(r.Content, BotConnectorContent{ContentType: "QuickReply", QuickReply: &BotConnectorQuickReply{Text: q, Payload: q, Action: "Message"}})
	}
	return r
}

// BotList is the body of PUT /api/v2/textbots/botconnector/integrations/{integrationId}/bots:
// the bots Architect offers in a Call Bot Connector action.
type BotList struct {
	ChatBots []BotConnectorBot `json:"chatBots"`
}

// BotConnectorBot is one bot of a Bot Connector integration.
type BotConnectorBot struct {
	ID          string                   `json:"id"`
	Name        string                   `json:"name,omitempty"`
	Description string                   `json:"description,omitempty"`
	Versions    []BotConnectorBotVersion `json:"versions"`
}

// BotConnectorBotVersion is one version of a bot, with the intents it can
// complete with.
type BotConnectorBotVersion struct {
	Version            string      `json:"version"`
	SupportedLanguages []string    `json:"supportedLanguages"`
	Intents            []BotIntent `json:"intents"`
}

// BotIntent is an intent a bot can complete with; Architect offers its
// slots as output variables.
type BotIntent struct {
	Name  string             `json:"name"`
	Slots map[string]BotSlot `json:"slots,omitempty"`
}

// BotSlot is a value returned with an intent.
type BotSlot struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Limits of a bot list, as the Genesys models document them.
const (
	maxBotListBots   = 50
	maxBotVersions   = 50
	maxBotIntents    = 50
	maxBotSlots      = 50
	maxBotNameRunes  = 100
	maxBotDescRunes  = 256
	maxBotIDRunes    = 100
	maxBotLangsCount = 50
)

// Validate checks a bot list against the documented models: every limit,
// every required field, names of displayable characters without leading or
// trailing whitespace. The sandbox refuses what fails it, as Genesys would.
func (l BotList) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	checkName := func(field, value string, max int, required bool) {
		switch {
		case value == "" && required:
			add("%s is required", field)
		case utf8.RuneCountInString(value) > max:
			add("%s is longer than %d characters", field, max)
		case value != strings.TrimSpace(value):
			add("%s has leading or trailing whitespace", field)
		}
	}
	if l.ChatBots == nil {
		add("chatBots is required")
	}
	if len(l.ChatBots) > maxBotListBots {
		add("chatBots has more than %d bots", maxBotListBots)
	}
	for i, b := range l.ChatBots {
		p := fmt.Sprintf("chatBots[%d]", i)
		checkName(p+".id", b.ID, maxBotIDRunes, true)
		checkName(p+".name", b.Name, maxBotNameRunes, false)
		checkName(p+".description", b.Description, maxBotDescRunes, false)
		if len(b.Versions) == 0 {
			add("%s.versions is required", p)
		}
		if len(b.Versions) > maxBotVersions {
			add("%s.versions has more than %d versions", p, maxBotVersions)
		}
		for j, v := range b.Versions {
			vp := fmt.Sprintf("%s.versions[%d]", p, j)
			checkName(vp+".version", v.Version, maxBotNameRunes, true)
			if len(v.SupportedLanguages) == 0 || len(v.SupportedLanguages) > maxBotLangsCount {
				add("%s.supportedLanguages must list 1 to %d languages", vp, maxBotLangsCount)
			}
			if v.Intents == nil {
				add("%s.intents is required", vp)
			}
			if len(v.Intents) > maxBotIntents {
				add("%s.intents has more than %d intents", vp, maxBotIntents)
			}
			for k, in := range v.Intents {
				checkName(fmt.Sprintf("%s.intents[%d].name", vp, k), in.Name, maxBotNameRunes, true)
				if len(in.Slots) > maxBotSlots {
					add("%s.intents[%d].slots has more than %d slots", vp, k, maxBotSlots)
				}
			}
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// BotConnectorBotsPath is the bot list of a Bot Connector integration.
func BotConnectorBotsPath(integrationID string) string {
	return "/api/v2/textbots/botconnector/integrations/" + url.PathEscape(integrationID) + "/bots"
}

// PutBotConnectorBots replaces the bot list of a Bot Connector integration,
// which Architect offers in its Call Bot Connector action.
func (c *Client) PutBotConnectorBots(ctx context.Context, integrationID string, list BotList) error {
	if !IsID(integrationID) {
		return fmt.Errorf("the Bot Connector integration id %q is not a Genesys id (a UUID)", integrationID)
	}
	return c.call(ctx, "PUT", BotConnectorBotsPath(integrationID), nil, list, nil)
}
