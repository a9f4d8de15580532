package relay

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

func TestTranscriptIsOneReadableMessageWithLabelsAndTimes(t *testing.T) {
	at := time.Date(2025, 1, 15, 10, 21, 33, 0, time.UTC)
	got := transcriptText([]TranscriptEntry{
		{Source: "user", Text: "My invoice is wrong", Time: at},
		{Source: "bot", Text: "  ", Time: at},
		{Source: "bot", Text: "Connecting you", Time: at.Add(2 * time.Second)},
		{Source: "user", Text: "thanks"},
	})
	want := "Conversation with the bot before the handover:\n" +
		"[2025-01-15 10:21:33 UTC] User: My invoice is wrong\n" +
		"[2025-01-15 10:21:35 UTC] Bot: Connecting you\n" +
		"User: thanks"
	if got != want {
		t.Fatalf("transcript:\n%s\nwant:\n%s", got, want)
	}
	if transcriptText(nil) != "" {
		t.Fatal("an empty transcript made text")
	}
}

func TestLongTranscriptsAreSplitUnderTheGenesysLimit(t *testing.T) {
	var entries []TranscriptEntry
	for range 300 {
		entries = append(entries, TranscriptEntry{Source: "user", Text: strings.Repeat("ä", 50)})
	}
	text := transcriptText(entries)
	parts := genesys.SplitText(text, genesys.MaxTextRunes)
	if len(parts) < 4 || strings.Join(parts, "") != text {
		t.Fatalf("%d parts; joined equal %v", len(parts), strings.Join(parts, "") == text)
	}
	for i, p := range parts {
		if n := len([]rune(p)); n > genesys.MaxTextRunes {
			t.Fatalf("part %d has %d characters", i, n)
		}
	}
}

func TestRoutingAttributesUseTheEndpointsNames(t *testing.T) {
	e := store.Endpoint{QueueID: "q-1", AttributeNames: map[string]string{"language": "lang"}}
	conv := store.Conversation{Language: "german", Skills: []string{"a", "b"}, UserID: "u", Priority: 3, SessionID: "s",
		CustomAttributes: map[string]string{"tier": "gold", "queueId": "overridden by routing"}}
	got := routingAttributes(e, conv)
	want := map[string]string{"tier": "gold", "queueId": "q-1", "lang": "german", "mySkills": "a,b", "userId": "u", "myPriority": "3", "sessionId": "s"}
	if len(got) != len(want) {
		t.Fatalf("attributes %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestBackoffHonoursRetryAfterAndGrowsWithJitterUpToTheLimit(t *testing.T) {
	r := New(Config{RetryBase: 100 * time.Millisecond, RetryMax: time.Second})
	if d := r.backoff(1, &genesys.APIError{Status: 429, RetryAfter: 7 * time.Second}); d != 7*time.Second {
		t.Fatalf("429 with Retry-After 7s waits %s", d)
	}
	for attempt, bounds := range map[int][2]time.Duration{1: {50 * time.Millisecond, 100 * time.Millisecond}, 3: {200 * time.Millisecond, 400 * time.Millisecond}, 30: {500 * time.Millisecond, time.Second}} {
		for range 50 {
			d := r.backoff(attempt, errors.New("503"))
			if d < bounds[0] || d > bounds[1] {
				t.Fatalf("attempt %d waits %s, want within %v", attempt, d, bounds)
			}
		}
	}
}

func TestTriggerBodiesInBothForms(t *testing.T) {
	ev, err := ParseTriggerEvent([]byte(`{"topicName":"v2.detail.events.conversation.c-1.user.end","eventBody":{"conversationId":"c-1","disconnectType":"CLIENT"}}`))
	if err != nil || ev.ConversationID != "c-1" || ev.Event != "user.end" || ev.DisconnectType != "CLIENT" {
		t.Fatalf("Process Automation body: %+v %v", ev, err)
	}
	ev, err = ParseTriggerEvent([]byte(`{"conversationId":"c-2","event":"customer.end"}`))
	if err != nil || ev.ConversationID != "c-2" || ev.Event != "customer.end" {
		t.Fatalf("flat body: %+v %v", ev, err)
	}
	for _, bad := range []string{`{}`, `{"conversationId":"c"}`, `not json`} {
		if _, err := ParseTriggerEvent([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestWebhookLogMasksSecretsInHeaders(t *testing.T) {
	got := maskHeaders(map[string]string{"Authorization": "Bearer x", "X-Api-Key": "k", "X-Hub-Signature-256": "sha256=abc", "Content-Type": "application/json", "X-Relay-Token": "t"})
	for _, h := range []string{"Authorization", "X-Api-Key", "X-Relay-Token"} {
		if got[h] != "••••••" {
			t.Errorf("%s not masked: %q", h, got[h])
		}
	}
	if got["Content-Type"] != "application/json" || got["X-Hub-Signature-256"] != "sha256=abc" {
		t.Errorf("harmless headers changed: %v", got)
	}
}

func TestAgentJoinedAndEndedRules(t *testing.T) {
	joined := []genesys.Participant{{Purpose: "customer", State: "connected"}, {Purpose: "agent", State: "connected", User: &genesys.EntityRef{Name: "Max"}}}
	if agentName(joined[1]) != "Max" {
		t.Fatal("agent name not taken from user.name")
	}
	connected := genesys.TimestampOf(time.Now())
	cases := []struct {
		name string
		p    genesys.Participant
		gone bool
	}{
		{"agent left", genesys.Participant{Purpose: "agent", State: "disconnected", ConnectedTime: connected, DisconnectType: "client"}, true},
		{"agent transferred", genesys.Participant{Purpose: "agent", State: "disconnected", ConnectedTime: connected, DisconnectType: "transfer"}, false},
		{"agent missed the alert", genesys.Participant{Purpose: "agent", State: "disconnected", DisconnectType: "client"}, false},
		{"agent still connected", genesys.Participant{Purpose: "agent", State: "connected", ConnectedTime: connected}, false},
		{"customer leg", genesys.Participant{Purpose: "customer", State: "disconnected", ConnectedTime: connected}, false},
	}
	for _, c := range cases {
		if ended := agentLeft(c.p); ended != c.gone {
			t.Errorf("%s: ended=%v", c.name, ended)
		}
	}
}

func TestPollingLeavesHalfTheRateBudgetToMessages(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	e := store.Endpoint{OrganisationID: 1, Name: "E", URLToken: "t", Provider: store.ProviderGenesysCloudOM,
		Host: "http://127.0.0.1:1", ClientID: "id", ClientSecret: "secret"}
	if err := s.CreateEndpoint(ctx, &e); err != nil {
		t.Fatal(err)
	}
	r := New(Config{Store: s, RequestsPerMinute: 600}) // a burst of 60
	c, err := r.client(e)
	if err != nil {
		t.Fatal(err)
	}
	// Messages spend more than half the burst.
	for range 31 {
		if wait, err := c.budget.take(ctx, 0); err != nil || wait > 0 {
			t.Fatalf("could not take 31 tokens: wait %s, %v", wait, err)
		}
	}
	conv := store.Conversation{EndpointID: e.ID, GenesysConversationID: "g-1"}
	if err := r.PollConversation(ctx, conv); !errors.Is(err, errBudget) {
		t.Fatalf("poll with less than half the budget left: %v, want errBudget (and no call to Genesys)", err)
	}
}

// A flood on one endpoint spends its fair share of the OAuth client's
// budget, not the other endpoints' (docs/security.md).
func TestEachEndpointOfAnOAuthClientHasAFairShareOfItsBudget(t *testing.T) {
	s := storetest.New(t)
	ctx := withPriority(context.Background(), forUserNow)
	var endpoints []store.Endpoint
	for _, name := range []string{"Flooded", "Quiet"} {
		e := store.Endpoint{OrganisationID: 1, Name: name, URLToken: "t-" + name, Provider: store.ProviderGenesysCloudOM,
			Host: "http://127.0.0.1:1", ClientID: "shared-client", ClientSecret: "secret"}
		if err := s.CreateEndpoint(context.Background(), &e); err != nil {
			t.Fatal(err)
		}
		endpoints = append(endpoints, e)
	}
	r := New(Config{Store: s, RequestsPerMinute: 600, SingleInstance: true}) // a burst of 60, 30 each
	r.countSharing(notificationGroups(endpoints))
	flooded, err := r.client(endpoints[0])
	if err != nil {
		t.Fatal(err)
	}
	taken := 0
	for range 60 {
		if spendFor(ctx, flooded.budget, flooded.share) != nil {
			break
		}
		taken++
	}
	if taken != 30 {
		t.Fatalf("the flooded endpoint took %d requests of a burst of 60 shared by two; want its half, 30", taken)
	}
	quiet, err := r.client(endpoints[1])
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if err := spendFor(ctx, quiet.budget, quiet.share); err != nil {
			t.Fatalf("the quiet endpoint's request %d during the flood: %v", i+1, err)
		}
	}
}
