package relay_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store"
)

// TestHTMLInUserInputIsRemovedBeforeItIsRelayedOrStored is the endpoint's
// inputSanitization (docs/privacy.md): tags and script contents go, text
// and entities stay as typed, in the transcript and in messages, at Genesys
// and in the timeline; a text of tags alone is refused like an empty one;
// an endpoint that keeps HTML relays it as sent.
func TestHTMLInUserInputIsRemovedBeforeItIsRelayedOrStored(t *testing.T) {
	g := newEngine(t, nil)
	ctx := context.Background()
	if _, err := g.relay.StartHandover(ctx, g.e, relay.HandoverRequest{UserID: "u1", SessionID: "s1",
		Transcript: []relay.TranscriptEntry{{Source: "user", Text: `<img src=x onerror="alert(1)">My <b>invoice</b>`}}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ sent, want string }{
		{`<b>Hello</b> <script>alert("x")</script>Tom & Jerry's`, `Hello Tom & Jerry's`},
		{`I <3 you, 1 < 2 & 3 > 2`, `I <3 you, 1 < 2 & 3 > 2`},
		{`&lt;script&gt;alert(1)&lt;/script&gt;spelt as entities`, `spelt as entities`},
		{`<a href="javascript:steal()">click</a> me`, `click me`},
	}
	for _, c := range cases {
		if _, err := g.relay.SendUserMessage(ctx, g.e, relay.UserMessage{UserID: "u1", SessionID: "s1", Text: c.sent}); err != nil {
			t.Fatalf("%q: %v", c.sent, err)
		}
	}
	_, err := g.relay.SendUserMessage(ctx, g.e, relay.UserMessage{UserID: "u1", SessionID: "s1", Text: "<p><br></p>"})
	var refusal *relay.Error
	if !errors.As(err, &refusal) || refusal.Code != "empty_message" {
		t.Fatalf("a text of tags alone: %v, want empty_message", err)
	}

	msgs := g.waitForMessages(1 + len(cases))
	if got := msgs[0].Text; strings.ContainsAny(got, "<>") || strings.Contains(got, "alert") || !strings.Contains(got, "My invoice") {
		t.Errorf("transcript at Genesys: %q", got)
	}
	for i, c := range cases {
		if got := msgs[1+i].Text; got != c.want {
			t.Errorf("at Genesys: %q became %q, want %q", c.sent, got, c.want)
		}
	}
	conv, err := g.store.LatestConversation(ctx, g.e.ID, "s1")
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := g.store.ConversationMessages(ctx, conv.ID)
	var texts []string
	for _, m := range stored {
		if m.Direction == store.FromUser {
			texts = append(texts, m.Text)
		}
	}
	if len(texts) != len(cases) || texts[0] != cases[0].want || texts[3] != cases[3].want {
		t.Errorf("stored user texts %q", texts)
	}

	keep := g.e
	keep.Privacy.KeepInputHTML = true
	if _, err := g.relay.SendUserMessage(ctx, keep, relay.UserMessage{UserID: "u1", SessionID: "s1", Text: "<b>as sent</b>"}); err != nil {
		t.Fatal(err)
	}
	if got := g.waitForMessages(2 + len(cases))[1+len(cases)].Text; got != "<b>as sent</b>" {
		t.Errorf("with inputSanitization off: %q", got)
	}
}
