package relay

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/handover-relay/handover/store"
)

// BotAnswer is what the endpoint's bot says to a message of the bot API or
// the demo web chat.
type BotAnswer struct {
	Outputs      []string
	Conversation *store.Conversation // set when the message started a handover
}

// AgentRequestWords are the words (as a regular expression alternation) that
// make the demo bot hand over; the demo web chat reads them too.
const AgentRequestWords = "agent|human|person|operator|someone real"

var asksForAgent = regexp.MustCompile(`(?i)\b(` + AgentRequestWords + `)\b`)

// DemoBot answers a session that is not in handover with the endpoint's bot
// (the built-in demo bot, or the external one at its Bot URL), so that "Open
// Demo Web Chat" tests the real bot. When the bot hands over, the session is
// handed over with the endpoint's "Handover to Agent" defaults, overridden
// by the language and skills the bot gave as parameters.
func (r *Relay) DemoBot(ctx context.Context, e store.Endpoint, userID, sessionID, text string, transcript []TranscriptEntry) (BotAnswer, error) {
	reply, err := r.AskBot(ctx, e, BotTurn{SessionID: sessionID, UserID: userID, Text: text, Language: e.DefaultLanguage})
	if err != nil {
		return BotAnswer{}, err
	}
	outputs := make([]string, 0, len(reply.Replies))
	for _, m := range reply.Replies {
		outputs = append(outputs, m.Text)
	}
	if !reply.Handover {
		return BotAnswer{Outputs: outputs}, nil
	}
	now := r.store.Now()
	transcript = append(transcript, TranscriptEntry{Source: "user", Text: text, Time: now})
	for i, out := range outputs {
		transcript = append(transcript, TranscriptEntry{Source: "bot", Text: out, Time: now.Add(time.Duration(i+1) * time.Millisecond)})
	}
	req := HandoverRequest{UserID: userID, SessionID: sessionID, Transcript: transcript, Language: reply.Parameters["language"]}
	if skills := strings.TrimSpace(reply.Parameters["skills"]); skills != "" {
		for _, s := range strings.Split(skills, ",") {
			if s = strings.TrimSpace(s); s != "" {
				req.Skills = append(req.Skills, s)
			}
		}
	}
	conv, err := r.StartHandover(ctx, e, req)
	if err != nil {
		return BotAnswer{}, err
	}
	return BotAnswer{Outputs: outputs, Conversation: &conv}, nil
}
