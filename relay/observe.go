package relay

import "time"

// Observer is told about the handover funnel and the webhooks as they happen,
// after the change is committed (Prometheus metrics implement it; see
// package metrics). Its methods must be quick and must not block.
type Observer interface {
	// HandoverRequested: a bot asked for a handover (StartHandover was called).
	HandoverRequested()
	// HandoverQueued: the handover is stored and its first Genesys call queued.
	HandoverQueued()
	// AgentJoined: an agent accepted, this long after the handover was queued.
	AgentJoined(sinceHandover time.Duration)
	// FirstAgentMessage: the agent's first message arrived, this long after the handover.
	FirstAgentMessage(sinceHandover time.Duration)
	// HandoverEnded: the session went back to the bot (state ended) for reason.
	HandoverEnded(reason string)
	// HandoverFailed: the handover could not be delivered (state failed).
	HandoverFailed(reason string)
	// Webhook: a request reached the webhook URL; verdict is the store's
	// verdict, or "duplicate" for a valid one seen before.
	Webhook(verdict string)
	// BotConnectorTurn: Genesys's Bot Connector posted a customer turn and
	// was answered with botState (MoreData, Complete or Failed).
	BotConnectorTurn(botState string)
}

// VerdictDuplicate is the verdict Observer.Webhook is told for a valid
// webhook that was received before (the log keeps it as valid/duplicate).
const VerdictDuplicate = "duplicate"

// nopObserver observes nothing.
type nopObserver struct{}

func (nopObserver) HandoverRequested()              {}
func (nopObserver) HandoverQueued()                 {}
func (nopObserver) AgentJoined(time.Duration)       {}
func (nopObserver) FirstAgentMessage(time.Duration) {}
func (nopObserver) HandoverEnded(string)            {}
func (nopObserver) HandoverFailed(string)           {}
func (nopObserver) Webhook(string)                  {}
func (nopObserver) BotConnectorTurn(string)         {}

// agentEffects collects, inside a transaction, what to observe once it commits.
type agentEffects struct {
	joined       bool
	firstMessage bool
}

// observeAgent reports what a committed transaction did for the conversation.
func (r *Relay) observeAgent(fx agentEffects, createdAt, at time.Time) {
	if fx.joined {
		r.obs.AgentJoined(at.Sub(createdAt))
	}
	if fx.firstMessage {
		r.obs.FirstAgentMessage(at.Sub(createdAt))
	}
}
