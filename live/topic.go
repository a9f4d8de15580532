package live

import (
	"strconv"
	"strings"
)

// Topic names what a signal is about. Build topics with the constants and
// functions below; nobody else spells them.
type Topic string

const (
	// Conversations is signalled on every change to any conversation (the console list).
	Conversations Topic = "conversations"
	// Webhooks is signalled on every logged webhook (the console's log).
	Webhooks Topic = "webhooks"
	// APICalls is signalled when Genesys calls are recorded (the console's API log).
	APICalls Topic = "apicalls"
	// BotDeliveries is signalled when an event webhook to a bot is tried (the console's log).
	BotDeliveries Topic = "botdeliveries"
	// AllTopics, as a delivered signal's topic, reaches every subscriber.
	AllTopics Topic = "*"
)

// Conversation is signalled on every change to one conversation.
func Conversation(id int64) Topic { return Topic("conversation:" + strconv.FormatInt(id, 10)) }

// Session is the topic of one bot session's event stream.
func Session(endpointID int64, sessionID string) Topic {
	return Topic("session:" + strconv.FormatInt(endpointID, 10) + ":" + sessionID)
}

// Event is the SSE event name the topic's signals carry in a console stream:
// "conversation:42" becomes "conversation-42" (a colon cannot appear in an
// htmx trigger name).
func (t Topic) Event() string { return strings.ReplaceAll(string(t), ":", "-") }

// TypingEvent is the SSE event name of a typing signal on the topic.
func (t Topic) TypingEvent() string { return t.Event() + "-typing" }

// Trigger is the htmx trigger of the topic's event: hx-trigger="sse:conversation-42".
func (t Topic) Trigger() string { return "sse:" + t.Event() }

// ConsoleTopic reads a topic a console page asked to watch; only the
// console's topics are allowed (conversations, webhooks, apicalls and one
// conversation's), never a bot session's.
func ConsoleTopic(s string) (Topic, bool) {
	switch t := Topic(s); t {
	case Conversations, Webhooks, APICalls, BotDeliveries:
		return t, true
	}
	digits, ok := strings.CutPrefix(s, "conversation:")
	if !ok || digits == "" {
		return "", false
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	return Topic(s), true
}

// Query is the topics part of a console stream's URL: topics=a,b.
func Query(topics ...Topic) string {
	parts := make([]string, len(topics))
	for i, t := range topics {
		parts[i] = string(t)
	}
	return "topics=" + strings.Join(parts, ",")
}
