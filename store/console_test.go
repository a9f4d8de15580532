package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

// consoleBase is the moment the console fixtures are created around.
var consoleBase = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

func newEndpoint(t *testing.T, s *store.Store, name string) store.Endpoint {
	t.Helper()
	e := store.Endpoint{OrganisationID: 1, Name: name, URLToken: "token-" + name}
	if err := s.CreateEndpoint(context.Background(), &e); err != nil {
		t.Fatal(err)
	}
	return e
}

type conversationFixture struct {
	endpoint         int64
	session, user    string
	state, genesysID string
	created          time.Time
}

func newConversation(t *testing.T, s *store.Store, f conversationFixture) store.Conversation {
	t.Helper()
	c := store.Conversation{EndpointID: f.endpoint, SessionID: f.session, UserID: cmpOr(f.user, "user-"+f.session), CustomerID: "customer-" + f.session,
		State: cmpOr(f.state, store.StateQueued), GenesysConversationID: f.genesysID, CreatedAt: f.created, UpdatedAt: f.created}
	if c.State == store.StateEnded || c.State == store.StateFailed {
		c.EndedAt = &f.created
	}
	if err := s.CreateConversation(context.Background(), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func ids[T any](rows []T, id func(T) int64) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = id(r)
	}
	return out
}

func conversationIDs(rows []store.Conversation) []int64 {
	return ids(rows, func(c store.Conversation) int64 { return c.ID })
}

func TestConversationListPagesByKeysetNewestFirst(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e := newEndpoint(t, s, "bot")
		const total = 2*store.DefaultPageSize + 20
		for i := range total {
			newConversation(t, s, conversationFixture{endpoint: e.ID, session: fmt.Sprintf("s%03d", i), created: consoleBase.Add(time.Duration(i) * time.Minute)})
		}
		seen := map[int64]bool{}
		var sizes []int
		before := int64(0)
		for page := 0; ; page++ {
			p, err := s.ListConversations(ctx, store.ConversationFilter{Before: before})
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, len(p.Rows))
			for i, c := range p.Rows {
				if seen[c.ID] {
					t.Fatalf("conversation %d shown on two pages", c.ID)
				}
				seen[c.ID] = true
				if before != 0 && c.ID >= before {
					t.Fatalf("page below %d shows %d", before, c.ID)
				}
				if i > 0 && c.ID >= p.Rows[i-1].ID {
					t.Fatalf("page %d not newest first: %v", page, conversationIDs(p.Rows))
				}
			}
			if p.Next == 0 {
				break
			}
			if p.Next != p.Rows[len(p.Rows)-1].ID {
				t.Fatalf("cursor %d is not the last id shown %d", p.Next, p.Rows[len(p.Rows)-1].ID)
			}
			before = p.Next
		}
		if fmt.Sprint(sizes) != fmt.Sprint([]int{store.DefaultPageSize, store.DefaultPageSize, 20}) || len(seen) != total {
			t.Fatalf("page sizes %v, %d conversations seen; want 50, 50, 20 and all %d", sizes, len(seen), total)
		}
		// A page that ends exactly at the last row has no next page.
		p, err := s.ListConversations(ctx, store.ConversationFilter{Limit: total})
		if err != nil || len(p.Rows) != total || p.Next != 0 {
			t.Fatalf("one page of all: %d rows, next %d, %v", len(p.Rows), p.Next, err)
		}
	})
}

func TestConversationListFilters(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a, b := newEndpoint(t, s, "a"), newEndpoint(t, s, "b")
		old := newConversation(t, s, conversationFixture{endpoint: a.ID, session: "old", state: store.StateEnded, created: consoleBase.Add(-48 * time.Hour)})
		queued := newConversation(t, s, conversationFixture{endpoint: a.ID, session: "queued", user: "alice", created: consoleBase.Add(-time.Hour)})
		joined := newConversation(t, s, conversationFixture{endpoint: b.ID, session: "joined", user: "alice", state: store.StateAgentJoined, genesysID: "g-123", created: consoleBase.Add(-30 * time.Minute)})
		failed := newConversation(t, s, conversationFixture{endpoint: b.ID, session: "failed", state: store.StateFailed, created: consoleBase})

		tests := []struct {
			name string
			f    store.ConversationFilter
			want []int64
		}{
			{"everything", store.ConversationFilter{}, []int64{failed.ID, joined.ID, queued.ID, old.ID}},
			{"endpoint", store.ConversationFilter{EndpointID: a.ID}, []int64{queued.ID, old.ID}},
			{"state", store.ConversationFilter{State: store.StateAgentJoined}, []int64{joined.ID}},
			{"endpoint and state", store.ConversationFilter{EndpointID: b.ID, State: store.StateFailed}, []int64{failed.ID}},
			{"since a day", store.ConversationFilter{Created: store.TimeRange{From: consoleBase.Add(-24 * time.Hour)}}, []int64{failed.ID, joined.ID, queued.ID}},
			{"until", store.ConversationFilter{Created: store.TimeRange{To: consoleBase.Add(-time.Hour)}}, []int64{old.ID}},
			{"between", store.ConversationFilter{Created: store.TimeRange{From: consoleBase.Add(-2 * time.Hour), To: consoleBase}}, []int64{joined.ID, queued.ID}},
			{"search session id", store.ConversationFilter{Search: "queued"}, []int64{queued.ID}},
			{"search user id", store.ConversationFilter{Search: " alice "}, []int64{joined.ID, queued.ID}},
			{"search Genesys id", store.ConversationFilter{Search: "g-123"}, []int64{joined.ID}},
			{"search is exact", store.ConversationFilter{Search: "g-12"}, []int64{}},
			{"search and state", store.ConversationFilter{Search: "alice", State: store.StateQueued}, []int64{queued.ID}},
			{"search with cursor", store.ConversationFilter{Search: "alice", Before: joined.ID}, []int64{queued.ID}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p, err := s.ListConversations(ctx, tt.f)
				if err != nil {
					t.Fatal(err)
				}
				if got := conversationIDs(p.Rows); fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Fatalf("ids %v, want %v", got, tt.want)
				}
			})
		}
	})
}

func TestInsertMessageKeepsTheConversationsLastMessage(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e := newEndpoint(t, s, "bot")
		c := newConversation(t, s, conversationFixture{endpoint: e.ID, session: "s1", created: consoleBase})
		insert := func(s *store.Store, direction, kind, text string, at time.Time) error {
			return s.InsertMessage(ctx, &store.Message{ConversationID: c.ID, EndpointID: e.ID, SessionID: "s1", Direction: direction, Kind: kind, Text: text, CreatedAt: at})
		}
		last := func() store.Conversation {
			t.Helper()
			got, err := s.ConversationByID(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		if err := insert(s, store.FromBot, store.KindTranscript, "User: hello\nBot: hi", consoleBase); err != nil {
			t.Fatal(err)
		}
		if got := last(); got.LastMessagePreview != "User: hello Bot: hi" || got.LastMessageFrom != store.FromBot || got.LastMessageAt == nil || !got.LastMessageAt.Equal(consoleBase) {
			t.Fatalf("after the transcript: %q from %q at %v", got.LastMessagePreview, got.LastMessageFrom, got.LastMessageAt)
		}
		// The inactivity timer counts from the user's or the agent's last
		// word, never backwards, and not from the bot's transcript.
		exchangedAt := func(want *time.Time) {
			t.Helper()
			if got := last().LastExchangeAt; (got == nil) != (want == nil) || (got != nil && !got.Equal(*want)) {
				t.Fatalf("last exchange at %v, want %v", got, want)
			}
		}
		exchangedAt(nil)
		long := strings.Repeat("é", 500)
		if err := insert(s, store.FromUser, store.KindText, long, consoleBase.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got := last(); got.LastMessageFrom != store.FromUser || len([]rune(got.LastMessagePreview)) != 140 || !strings.HasSuffix(got.LastMessagePreview, "…") {
			t.Fatalf("a long message: %d characters from %q", len([]rune(got.LastMessagePreview)), got.LastMessageFrom)
		}
		exchangedAt(new(consoleBase.Add(time.Minute)))
		// A state change, and a message older than the last, leave it.
		if err := insert(s, store.FromSystem, store.KindState, "", consoleBase.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := insert(s, store.FromAgent, store.KindText, "late", consoleBase.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got := last(); got.LastMessageFrom != store.FromUser {
			t.Fatalf("last message from %q (%q), want still the user's", got.LastMessageFrom, got.LastMessagePreview)
		}
		exchangedAt(new(consoleBase.Add(time.Minute)))
		// Same transaction: a rolled back message leaves no preview behind.
		boom := errors.New("boom")
		err := s.InTx(ctx, func(tx *store.Store) error {
			if err := insert(tx, store.FromAgent, store.KindText, "rolled back", consoleBase.Add(time.Hour)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if got := last(); got.LastMessagePreview == "rolled back" {
			t.Fatal("a rolled-back message became the last message")
		}
		if err := insert(s, store.FromAgent, store.KindText, "Hello, I am Ann.", consoleBase.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got := last(); got.LastMessagePreview != "Hello, I am Ann." || got.LastMessageFrom != store.FromAgent {
			t.Fatalf("after the agent: %q from %q", got.LastMessagePreview, got.LastMessageFrom)
		}
		exchangedAt(new(consoleBase.Add(time.Hour)))
	})
}

func newWebhook(t *testing.T, s *store.Store, w store.Webhook) store.Webhook {
	t.Helper()
	if w.Status == 0 {
		w.Status = 200
	}
	if w.Body == "" {
		w.Body = `{"id":"m1"}`
	}
	if _, err := s.InsertWebhook(context.Background(), &w); err != nil {
		t.Fatal(err)
	}
	return w
}

func webhookIDs(rows []store.Webhook) []int64 {
	return ids(rows, func(w store.Webhook) int64 { return w.ID })
}

func TestWebhookListFiltersPagesAndLeavesBodiesOut(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a, b := newEndpoint(t, s, "a"), newEndpoint(t, s, "b")
		valid := newWebhook(t, s, store.Webhook{ReceivedAt: consoleBase.Add(-48 * time.Hour), EndpointID: &a.ID, Verdict: store.VerdictValid})
		mismatch := newWebhook(t, s, store.Webhook{ReceivedAt: consoleBase.Add(-time.Hour), EndpointID: &b.ID, Verdict: store.VerdictMismatch, Status: 401})
		malformed := newWebhook(t, s, store.Webhook{ReceivedAt: consoleBase, Verdict: store.VerdictMalformed, Status: 400})
		valid2 := newWebhook(t, s, store.Webhook{ReceivedAt: consoleBase, EndpointID: &a.ID, Verdict: store.VerdictValid})

		tests := []struct {
			name string
			f    store.WebhookFilter
			want []int64
		}{
			{"everything", store.WebhookFilter{}, []int64{valid2.ID, malformed.ID, mismatch.ID, valid.ID}},
			{"verdict", store.WebhookFilter{Verdict: store.VerdictMismatch}, []int64{mismatch.ID}},
			{"every rejection", store.WebhookFilter{Verdict: store.WebhooksRejected}, []int64{malformed.ID, mismatch.ID}},
			{"endpoint", store.WebhookFilter{EndpointID: a.ID}, []int64{valid2.ID, valid.ID}},
			{"since", store.WebhookFilter{Received: store.TimeRange{From: consoleBase.Add(-2 * time.Hour)}}, []int64{valid2.ID, malformed.ID, mismatch.ID}},
			{"cursor", store.WebhookFilter{Before: malformed.ID}, []int64{mismatch.ID, valid.ID}},
			{"page of two", store.WebhookFilter{Limit: 2}, []int64{valid2.ID, malformed.ID}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p, err := s.ListWebhooks(ctx, tt.f)
				if err != nil {
					t.Fatal(err)
				}
				if got := webhookIDs(p.Rows); fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Fatalf("ids %v, want %v", got, tt.want)
				}
				for _, w := range p.Rows {
					if w.Body != "" {
						t.Fatal("the list loaded webhook bodies")
					}
				}
			})
		}
		p, _ := s.ListWebhooks(ctx, store.WebhookFilter{Limit: 2})
		if p.Next != malformed.ID {
			t.Fatalf("next cursor %d, want %d", p.Next, malformed.ID)
		}
	})
}

func TestAPICallListFiltersByResult(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e := newEndpoint(t, s, "a")
		var made []int64
		for _, call := range []store.APICall{
			{Status: 202},
			{Status: 429, Error: "rate limited"},
			{Status: 0, Error: "connection refused"},
			{Status: 200, Error: "decode answer: EOF"},
			{Status: 204},
		} {
			call.EndpointID, call.Method, call.Path, call.CreatedAt = e.ID, "POST", "/api/v2/x", consoleBase
			if err := s.InsertAPICall(ctx, &call); err != nil {
				t.Fatal(err)
			}
			made = append(made, call.ID)
		}
		list := func(f store.APICallFilter) []int64 {
			p, err := s.ListAPICalls(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			return ids(p.Rows, func(c store.APICall) int64 { return c.ID })
		}
		if got, want := list(store.APICallFilter{Status: store.APICallsOK}), []int64{made[4], made[0]}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("ok calls %v, want %v", got, want)
		}
		if got, want := list(store.APICallFilter{Status: store.APICallsFailed}), []int64{made[3], made[2], made[1]}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("failed calls %v, want %v", got, want)
		}
		if got := list(store.APICallFilter{EndpointID: e.ID + 1}); len(got) != 0 {
			t.Fatalf("another endpoint's calls: %v", got)
		}
		if got := list(store.APICallFilter{Created: store.TimeRange{From: consoleBase.Add(time.Second)}}); len(got) != 0 {
			t.Fatalf("calls after they were made: %v", got)
		}
	})
}

func TestPruningDeletesOnlyOlderWebhooksAndCallsInBatches(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e := newEndpoint(t, s, "a")
		cutoff := consoleBase.Add(-14 * 24 * time.Hour)
		const old = 2345 // more than two batches
		err := s.InTx(ctx, func(tx *store.Store) error {
			for i := range old {
				if _, err := tx.InsertWebhook(ctx, &store.Webhook{ReceivedAt: cutoff.Add(-time.Duration(i+1) * time.Second), Verdict: store.VerdictValid, Status: 200}); err != nil {
					return err
				}
				if err := tx.InsertAPICall(ctx, &store.APICall{EndpointID: e.ID, Method: "GET", Path: "/x", CreatedAt: cutoff.Add(-time.Duration(i+1) * time.Second)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		keep := newWebhook(t, s, store.Webhook{ReceivedAt: cutoff, Verdict: store.VerdictValid})
		keepCall := store.APICall{EndpointID: e.ID, Method: "GET", Path: "/x", CreatedAt: cutoff.Add(time.Second)}
		if err := s.InsertAPICall(ctx, &keepCall); err != nil {
			t.Fatal(err)
		}

		n, err := s.PruneWebhooks(ctx, cutoff)
		if err != nil || n != old {
			t.Fatalf("pruned %d webhooks (%v), want %d", n, err, old)
		}
		p, _ := s.ListWebhooks(ctx, store.WebhookFilter{})
		if got := webhookIDs(p.Rows); len(got) != 1 || got[0] != keep.ID {
			t.Fatalf("webhooks left %v, want only %d", got, keep.ID)
		}
		n, err = s.PruneAPICalls(ctx, cutoff)
		if err != nil || n != old {
			t.Fatalf("pruned %d calls (%v), want %d", n, err, old)
		}
		calls, _ := s.ListAPICalls(ctx, store.APICallFilter{})
		if len(calls.Rows) != 1 || calls.Rows[0].ID != keepCall.ID {
			t.Fatalf("calls left %d, want only %d", len(calls.Rows), keepCall.ID)
		}
		if n, err := s.PruneWebhooks(ctx, cutoff); err != nil || n != 0 {
			t.Fatalf("second prune: %d, %v", n, err)
		}
	})
}

func TestInsertReplayedWebhookAppliesTheDedupeKey(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		key := func(k string) *string { return &k }
		processedAt := consoleBase
		processed := newWebhook(t, s, store.Webhook{ReceivedAt: consoleBase, Verdict: store.VerdictValid, DedupeKey: key("i|Text|done"), Outcome: store.OutcomeDelivered, ProcessedAt: &processedAt})
		waiting := newWebhook(t, s, store.Webhook{ReceivedAt: consoleBase, Verdict: store.VerdictValid, DedupeKey: key("i|Text|waiting")})

		replay := func(of store.Webhook, k string) (store.Webhook, bool) {
			t.Helper()
			w := store.Webhook{ReceivedAt: consoleBase.Add(time.Hour), Verdict: store.VerdictValid, Status: 200, Body: of.Body, ReplayOf: &of.ID, DedupeKey: key(k)}
			dup, err := s.InsertReplayedWebhook(ctx, &w)
			if err != nil {
				t.Fatal(err)
			}
			return w, dup
		}
		// Processed already: a duplicate, with no key and marked processed.
		w, dup := replay(processed, "i|Text|done")
		if !dup || w.DedupeKey != nil || w.Outcome != store.OutcomeDuplicate || w.ProcessedAt == nil {
			t.Fatalf("replay of a processed webhook: duplicate %v, %+v", dup, w)
		}
		// Never processed: the replay takes the key over, the original gives it up.
		w, dup = replay(waiting, "i|Text|waiting")
		if dup || w.DedupeKey == nil || w.ProcessedAt != nil {
			t.Fatalf("replay of a waiting webhook: duplicate %v, %+v", dup, w)
		}
		original, _ := s.WebhookByID(ctx, waiting.ID)
		if original.DedupeKey != nil || original.Outcome != store.OutcomeReplayed || original.ProcessedAt == nil {
			t.Fatalf("the original after its replay took over: %+v", original)
		}
		// A key nobody holds: logged with it.
		w, dup = replay(processed, "i|Text|new")
		if dup || w.DedupeKey == nil || *w.DedupeKey != "i|Text|new" {
			t.Fatalf("replay with a fresh key: duplicate %v, %+v", dup, w)
		}
		replays, err := s.WebhookReplays(ctx, processed.ID)
		if err != nil || len(replays) != 2 || *replays[0].ReplayOf != processed.ID {
			t.Fatalf("replays of %d: %d, %v", processed.ID, len(replays), err)
		}
	})
}
