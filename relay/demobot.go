package relay

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/handover-relay/handover/store"
)

// BotAnswer is what the built-in demo bot says to a message.
type BotAnswer struct {
	Outputs      []string
	Conversation *store.Conversation // set when the message started a handover
}

// AgentRequestWords are the words (as a regular expression alternation) that
// make the demo bot hand over; the demo web chat reads them too.
const AgentRequestWords = "agent|human|person|operator|someone real"

var asksForAgent = regexp.MustCompile(`(?i)\b(` + AgentRequestWords + `)\b`)

// DemoBot answers a session that is not in handover. It is the smallest bot
// that shows the product: it hands over when the user asks for an agent or a
// human, with the endpoint's "Handover to Agent" defaults.
func (r *Relay) DemoBot(ctx context.Context, e store.Endpoint, userID, sessionID, text string, transcript []TranscriptEntry) (BotAnswer, error) {
	if !asksForAgent.MatchString(text) {
		answer := "I am the Handover demo bot. I cannot help with much myself, but type \"agent\" and I will hand you over to a human."
		if strings.TrimSpace(text) == "" {
			answer = "Hello! Type \"agent\" to talk to a human."
		}
		return BotAnswer{Outputs: []string{answer}}, nil
	}
	now := r.store.Now()
	transcript = append(transcript, TranscriptEntry{Source: "user", Text: text, Time: now})
	reply := "One moment, I am connecting you with an agent."
	transcript = append(transcript, TranscriptEntry{Source: "bot", Text: reply, Time: now.Add(time.Millisecond)})
	conv, err := r.StartHandover(ctx, e, HandoverRequest{UserID: userID, SessionID: sessionID, Transcript: transcript})
	if err != nil {
		return BotAnswer{}, err
	}
	return BotAnswer{Outputs: []string{reply}, Conversation: &conv}, nil
}
