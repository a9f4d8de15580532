package sandbox

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// Routing as an ACD does it, beyond the happy path of Accept: offers that an
// agent declines or misses, transfers to another agent or queue, after-call
// work, and the customer leaving. Each change sends a snapshot on the queue
// topic (docs/genesys.md §Notifications) and the detail events of §DetailEvents.
//
// The disconnectType of a participant is one of the conversation model's
// lower-case values; the detail events carry the UPPER_SNAKE equivalent:
//
//	declined offer    endpoint           ENDPOINT
//	missed offer      transfer.noanswer  NO_ANSWER_TRANSFER
//	transfer          transfer           TRANSFER
//	agent ends        client             CLIENT    (the customer follows: peer, PEER)
//	customer leaves   endpoint           ENDPOINT  (the agent follows: peer, PEER)
//	relay disconnects the customer leg: client, CLIENT (the agent follows: peer)
//
// Genesys's "disconnect reasons" describe Endpoint as the participant's own
// endpoint ending the session and No Answer Transfer as "a transfer after an
// alerting timeout"; Timeout is a dialing timeout, and the message
// conversation model (MessageMediaParticipant) has no "timeout" value at all.
// Which value a declined message offer gets is not documented; endpoint is
// the participant-side end that is neither the agent leaving (client) nor a
// transfer.

// Offer has the ACD offer the conversation to agentName: a new agent leg in
// state alerting, without connectedTime. It fires user.start (docs/genesys.md
// §DetailEvents: user.start means alerting, not answered). Accept connects the
// agent; DeclineOffer and OfferTimeout end the offer.
func (s *Sandbox) Offer(conversationID, agentName string) error {
	agentName = strings.TrimSpace(agentName)
	if agentName == "" {
		return fmt.Errorf("offer conversation %s: the agent needs a name", conversationID)
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	conv, err := s.openConversationLocked(conversationID)
	if err != nil {
		return fmt.Errorf("offer conversation %s: %w", conversationID, err)
	}
	if connectedAgent(conv) != nil {
		return fmt.Errorf("offer conversation %s: %w", conversationID, ErrAlreadyAccepted)
	}
	if other := alertingAgent(conv); other != nil {
		return fmt.Errorf("offer conversation %s to %s: %w (%s)", conversationID, agentName, ErrOfferPending, other.UserName)
	}
	agent := s.alertLocked(conv, agentName, now)
	s.changedLocked(conv)
	s.userStartLocked(conv, agent, now)
	return nil
}

// DeclineOffer has the alerting agent decline: the leg disconnects
// (endpoint) without ever connecting, user.end reports interactingDurationMs
// 0, and the conversation keeps waiting on its queue.
func (s *Sandbox) DeclineOffer(conversationID string) error {
	return s.endOffer(conversationID, disconnectEndpoint, "decline offer")
}

// OfferTimeout has the alert time out unanswered: as DeclineOffer, with
// disconnectType transfer.noanswer (NO_ANSWER_TRANSFER in user.end).
func (s *Sandbox) OfferTimeout(conversationID string) error {
	return s.endOffer(conversationID, disconnectNoAnswer, "time out offer")
}

func (s *Sandbox) endOffer(conversationID, disconnectType, what string) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	conv, err := s.openConversationLocked(conversationID)
	if err != nil {
		return fmt.Errorf("%s in conversation %s: %w", what, conversationID, err)
	}
	agent := alertingAgent(conv)
	if agent == nil {
		return fmt.Errorf("%s in conversation %s: %w", what, conversationID, ErrNoOffer)
	}
	s.disconnectLocked(conv, agent, disconnectType, now)
	s.refreshStateLocked(conv)
	s.changedLocked(conv)
	return nil
}

// TransferToAgent has the connected agent transfer the conversation to
// agentName: the agent leaves (transfer, with after-call work; user.end
// TRANSFER) and a new agent leg alerts for agentName (user.start). Accept
// with agentName connects them. The conversation does not end.
func (s *Sandbox) TransferToAgent(conversationID, agentName string) error {
	agentName = strings.TrimSpace(agentName)
	if agentName == "" {
		return fmt.Errorf("transfer conversation %s: the agent needs a name", conversationID)
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	conv, err := s.openConversationLocked(conversationID)
	if err != nil {
		return fmt.Errorf("transfer conversation %s: %w", conversationID, err)
	}
	from := connectedAgent(conv)
	if from == nil {
		return fmt.Errorf("transfer conversation %s: %w", conversationID, ErrNoAgent)
	}
	if from.UserName == agentName {
		return fmt.Errorf("transfer conversation %s: %s is the connected agent", conversationID, agentName)
	}
	s.disconnectLocked(conv, from, disconnectTransfer, now)
	to := s.alertLocked(conv, agentName, now)
	s.refreshStateLocked(conv)
	s.changedLocked(conv)
	s.userStartLocked(conv, to, now)
	return nil
}

// TransferToQueue has the connected agent transfer the conversation to the
// queue queueID: the agent leaves (transfer; user.end TRANSFER), a new ACD
// leg holds the conversation on the other queue and the conversation's
// QueueID changes. The old queue's topic gets one last snapshot, showing
// the transfer; later ones go to the new queue's topic (whether Genesys
// keeps reporting on the old topic is UNCERTAIN, docs/genesys.md §Notifications).
func (s *Sandbox) TransferToQueue(conversationID, queueID string) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	conv, err := s.openConversationLocked(conversationID)
	if err != nil {
		return fmt.Errorf("transfer conversation %s: %w", conversationID, err)
	}
	q, ok := s.queueLocked(queueID)
	if !ok {
		return fmt.Errorf("transfer conversation %s to queue %s: %w", conversationID, queueID, ErrUnknownQueue)
	}
	if q.id == conv.QueueID {
		return fmt.Errorf("transfer conversation %s: it is already on queue %s", conversationID, q.name)
	}
	from := connectedAgent(conv)
	if from == nil {
		return fmt.Errorf("transfer conversation %s: %w", conversationID, ErrNoAgent)
	}
	s.disconnectLocked(conv, from, disconnectTransfer, now)
	conv.Participants = append(conv.Participants, Participant{
		ID: uuid.NewString(), SessionID: uuid.NewString(), Name: q.name, Purpose: purposeACD, State: stateConnected,
		Direction: "inbound", StartTime: now, ConnectedTime: now, QueueID: q.id,
	})
	s.refreshStateLocked(conv)
	s.changedLocked(conv) // the old queue's last word on it
	conv.QueueID = q.id
	s.changedLocked(conv)
	return nil
}

// FinishWrapup has the agent in after-call work on the conversation apply
// wrapupCode: the leg gets endAcwTime and its wrap-up, a snapshot goes out,
// and the acw detail event fires (it has no disconnectType). It works on an
// ended conversation too, which is where after-call work usually happens.
// With several agents in after-call work (after a transfer), the one who
// left last wraps up first.
func (s *Sandbox) FinishWrapup(conversationID, wrapupCode string) error {
	wrapupCode = strings.TrimSpace(wrapupCode)
	if wrapupCode == "" {
		return fmt.Errorf("finish wrap-up in conversation %s: the wrap-up code is empty", conversationID)
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	conv, ok := s.convs[conversationID]
	if !ok {
		return fmt.Errorf("finish wrap-up in conversation %s: %w", conversationID, ErrConversationNotFound)
	}
	agent := agentInWrapup(conv)
	if agent == nil {
		return fmt.Errorf("finish wrap-up in conversation %s: %w", conversationID, ErrNoWrapup)
	}
	agent.EndAcwTime, agent.WrapupCode = now, wrapupCode
	s.changedLocked(conv)
	s.acwLocked(conv, agent, now)
	return nil
}

// agentInWrapup is the agent who left most recently and has not wrapped up.
func agentInWrapup(conv *Conversation) *Participant {
	var found *Participant
	for i := range conv.Participants {
		p := &conv.Participants[i]
		if p.Purpose != purposeAgent || p.StartAcwTime.IsZero() || !p.EndAcwTime.IsZero() {
			continue
		}
		if found == nil || !p.StartAcwTime.Before(found.StartAcwTime) {
			found = p
		}
	}
	return found
}

// CustomerEnd has the customer leave from the messaging side: the customer
// leg disconnects (endpoint; customer.end ENDPOINT) and the others follow
// (peer; an agent's user.end PEER). The end shows in the queue topic's
// snapshot and in GET …/messages/{id}.
func (s *Sandbox) CustomerEnd(conversationID string) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	conv, err := s.openConversationLocked(conversationID)
	if err != nil {
		return fmt.Errorf("customer leaves conversation %s: %w", conversationID, err)
	}
	s.endConversationLocked(conv, disconnectEndpoint, disconnectPeer, now)
	s.changedLocked(conv)
	return nil
}

// refreshStateLocked derives the desk's state of an open conversation from
// its legs: connected while an agent is, waiting otherwise.
func (s *Sandbox) refreshStateLocked(conv *Conversation) {
	if conv.State == StateEnded {
		return
	}
	conv.State = StateWaiting
	if connectedAgent(conv) != nil {
		conv.State = StateConnected
	}
}
