package views

import (
	"strconv"
	"time"

	"github.com/handover-relay/handover/live"
	"github.com/handover-relay/handover/paths"
)

// Target ids of the live console's lists and conversation page, used both as
// id and as hx-target (and read back from the HX-Target header).
const (
	ConversationListID   = "conversation-list"
	ConversationDetailID = "conversation-detail"
	WebhookListID        = "webhook-list"
	APICallListID        = "api-call-list"
	BotDeliveryListID    = "bot-delivery-list"
)

// EventsURL is the console event stream of the topics, for sse-connect.
func EventsURL(topics ...live.Topic) string { return paths.ConsoleEvents + "?" + live.Query(topics...) }

// Option is one choice of a filter's select.
type Option struct {
	Value string
	Label string
}

// KeyValue is one named value: a custom attribute, a header.
type KeyValue struct {
	Key   string
	Value string
}

// Pager links the pages of a keyset-paginated list.
type Pager struct {
	NewestURL string // "" on the first page
	OlderURL  string // "" on the last page
}

// consoleTimeLayout is how the console shows a moment (UTC).
const consoleTimeLayout = "2006-01-02 15:04:05"

// when shows a time in UTC, or a dash for none.
func when(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format(consoleTimeLayout)
}

func datetime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// millis shows a duration in milliseconds (or microseconds below one).
func millis(d time.Duration) string {
	if d < time.Millisecond {
		return strconv.FormatInt(d.Microseconds(), 10) + " µs"
	}
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
}

// StateLabel says a conversation state in plain words.
func StateLabel(state string) string {
	switch state {
	case "queued":
		return "waiting for an agent"
	case "agent_joined":
		return "with an agent"
	case "ended":
		return "ended"
	case "failed":
		return "failed"
	case "with_bot":
		return "with the bot (Genesys Bot Connector)"
	}
	return state
}

// ReasonLabel says why a conversation ended in plain words.
func ReasonLabel(reason string) string {
	switch reason {
	case "agent_ended":
		return "the agent ended it"
	case "user_ended":
		return "the user left"
	case "undelivered":
		return "it could not be delivered to Genesys"
	case "timeout":
		return "it timed out"
	case "inactivity":
		return "ended after a period of inactivity"
	case "queue_timeout":
		return "no agent took it within the queue timeout"
	case "session_expired":
		return "the messaging session expired in Genesys"
	case "transferred":
		return "transferred out of the queue's reach"
	case "error":
		return "an error in Genesys ended it"
	case "sandbox_restarted":
		return "the sandbox restarted"
	case "bot_complete":
		return "the bot completed the turn (Bot Connector Complete): the Genesys flow took over"
	case "bot_failed":
		return "the bot gave no answer (Bot Connector Failed)"
	}
	return reason
}

func stateBadge(state string) string {
	switch state {
	case "agent_joined", "valid", "ok", "delivered", "sent":
		return "badge ok"
	case "ended":
		return "badge off"
	case "failed", "missing", "mismatch", "unknown_integration", "malformed", "stale", "too_large", "timeout", "rejected":
		return "badge fail"
	}
	return "badge"
}

// VerdictLabel says a webhook's signature verdict in plain words.
func VerdictLabel(verdict string) string {
	switch verdict {
	case "valid":
		return "valid"
	case "missing":
		return "signature missing"
	case "mismatch":
		return "signature does not match"
	case "unknown_integration":
		return "unknown integration"
	case "malformed":
		return "not a webhook body"
	case "stale":
		return "too old (replay refused)"
	case "too_large":
		return "body too large (not read)"
	case "timeout":
		return "body too slow to arrive"
	}
	return verdict
}

// OutcomeLabel says what processing a webhook did, in plain words.
func OutcomeLabel(outcome string, processed bool) string {
	switch outcome {
	case "delivered":
		return "delivered"
	case "duplicate":
		return "duplicate — already processed"
	case "no_conversation":
		return "no open conversation for it"
	case "logged":
		return "logged"
	case "ignored":
		return "ignored"
	case "rejected":
		return "rejected"
	case "replayed":
		return "processed by its replay instead"
	case "":
		if !processed {
			return "waiting to be processed"
		}
	}
	return outcome
}
