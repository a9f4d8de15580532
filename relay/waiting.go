package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/store"
)

// ErrNoAgents: the handover asked to be refused when nobody is On Queue,
// and nobody is. The *Error carries the availability.
var ErrNoAgents = errors.New("no agent on queue")

// Availability is whether anyone can take a handover on the endpoint's
// queue, from Genesys's queue observation and estimated wait
// (docs/genesys.md §Queues).
type Availability struct {
	// Known is false when Genesys could not say (a refused permission, an
	// outage): then nothing else is meaningful, and no handover is refused.
	Known         bool
	Available     bool // at least one agent On Queue, idle or busy
	AgentsOnQueue int
	AgentsIdle    int
	Waiting       int // message conversations waiting in the queue
	// EstimatedWait is Genesys's estimate for a new conversation; nil when
	// it has none or the call was refused.
	EstimatedWait *time.Duration
	// Problem says why Known is false or the estimate is missing.
	Problem   string
	CheckedAt time.Time
}

// availabilityCache keeps each queue's availability for a few seconds, so
// that a busy bot does not spend the OAuth client's 300 calls a minute on
// it; concurrent askers of one queue share one pair of Genesys calls.
type availabilityCache struct {
	mu      sync.Mutex
	entries map[string]*availabilityEntry
}

type availabilityEntry struct {
	ready chan struct{} // closed once value is set
	value Availability
}

// Availability answers whether anyone can take a handover on the
// endpoint's queue now, from a cache of cfg.AvailabilityCacheFor.
func (r *Relay) Availability(ctx context.Context, e store.Endpoint) Availability {
	if e.Provider != store.ProviderGenesysCloudOM || e.QueueID == "" {
		return Availability{Problem: "The endpoint hands over to no Genesys queue.", CheckedAt: r.store.Now()}
	}
	key := e.Host + "\x00" + e.ClientID + "\x00" + e.QueueID
	now := r.store.Now()
	r.availability.mu.Lock()
	entry, ok := r.availability.entries[key]
	if ok {
		select {
		case <-entry.ready:
			if now.Sub(entry.value.CheckedAt) >= r.cfg.AvailabilityCacheFor {
				ok = false // stale: ask again
			}
		default: // another caller is asking Genesys: wait for it
		}
	}
	if !ok {
		entry = &availabilityEntry{ready: make(chan struct{})}
		r.availability.entries[key] = entry
		r.availability.mu.Unlock()
		entry.value = r.askAvailability(ctx, e)
		close(entry.ready)
		return entry.value
	}
	r.availability.mu.Unlock()
	select {
	case <-entry.ready:
		return entry.value
	case <-ctx.Done():
		return Availability{Problem: "Asking Genesys took too long.", CheckedAt: now}
	}
}

// askAvailability makes the two Genesys calls. A refusal or an outage makes
// the availability unknown, never an error: a bot that asks must still be
// able to hand over.
func (r *Relay) askAvailability(ctx context.Context, e store.Endpoint) Availability {
	a := Availability{CheckedAt: r.store.Now()}
	c, err := r.client(e)
	if err != nil {
		a.Problem = err.Error()
		return a
	}
	ctx = withPriority(ctx, forWaiting)
	o, err := c.client.ObserveQueue(ctx, e.QueueID)
	if err != nil {
		a.Problem = availabilityProblem("analytics:queueObservation:view", err)
		r.log.WarnContext(ctx, "queue availability unknown", slog.Int64("endpoint_id", e.ID), slog.Any("error", err))
		return a
	}
	a.Known, a.Available = true, o.AgentsOnQueue > 0
	a.AgentsOnQueue, a.AgentsIdle, a.Waiting = o.AgentsOnQueue, o.AgentsIdle, o.Waiting
	if seconds, estimated, err := c.client.EstimatedWaitTime(ctx, e.QueueID); err != nil {
		a.Problem = availabilityProblem("routing:queue:view", err)
	} else if estimated {
		wait := time.Duration(seconds) * time.Second
		a.EstimatedWait = &wait
	}
	return a
}

// availabilityProblem says in words why a queue call failed, naming the
// permission when Genesys refused it.
func availabilityProblem(permission string, err error) string {
	if apiErr, ok := errors.AsType[*genesys.APIError](err); ok && apiErr.Status == http.StatusForbidden {
		return "Genesys refused the call: the OAuth client's role lacks " + permission + "."
	}
	return "Genesys did not answer: " + err.Error()
}

// noAgents refuses a handover nobody can take, with the availability.
func noAgents(a Availability) *Error {
	e := refuse(ErrNoAgents, "no_agents", "No agent is On Queue for this endpoint's queue, so the handover was not started.")
	e.Availability = &a
	return e
}

// waitingText is the endpoint's text of key for the user, with its
// placeholders filled: {wait} the estimated wait in words, {waiting} the
// conversations waiting, {agent} the agent's name. "" when the endpoint has
// none and there is no default.
func waitingText(e store.Endpoint, key string, fill textFill) string {
	text := e.Waiting.Messages[key]
	if text == "" {
		text = defaultTexts[key]
	}
	if text == "" {
		return ""
	}
	return strings.NewReplacer(
		"{wait}", waitInWords(fill.wait),
		"{waiting}", strconv.Itoa(fill.waiting),
		"{agent}", cmpOr(fill.agent, "the agent"),
	).Replace(text)
}

// textFill is what a text's placeholders stand for.
type textFill struct {
	wait    *time.Duration
	waiting int
	agent   string
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// defaultTexts are what the user reads when the endpoint sets no text of
// its own: today's words, so that an endpoint without texts behaves as
// before (nothing is said on a handover, while waiting or on a join).
var defaultTexts = map[string]string{
	store.MessageAgentEnded:   goodbyes[store.ReasonAgentEnded],
	store.MessageInactivity:   goodbyes[store.ReasonInactivity],
	store.MessageQueueTimeout: "No agent was free to take the conversation in time. You are chatting with the bot again.",
	store.MessageCustomerLeft: "The customer has left the chat.",
}

// DefaultText is the text of key an endpoint without its own shows; ""
// for none.
func DefaultText(key string) string { return defaultTexts[key] }

// reasonText is the key of the text the user reads when a handover ends for reason.
var reasonTexts = map[string]string{
	store.ReasonAgentEnded:   store.MessageAgentEnded,
	store.ReasonInactivity:   store.MessageInactivity,
	store.ReasonQueueTimeout: store.MessageQueueTimeout,
	store.ReasonUndelivered:  store.MessageFailed,
}

// waitInWords says an estimated wait the way a person would.
func waitInWords(d *time.Duration) string {
	switch {
	case d == nil:
		return "a little while"
	case *d < time.Minute:
		return "less than a minute"
	case *d < 90*time.Second:
		return "about a minute"
	case *d < time.Hour:
		return fmt.Sprintf("about %d minutes", int((*d+30*time.Second)/time.Minute))
	default:
		return "more than an hour"
	}
}
