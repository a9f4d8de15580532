package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

// seedConversation makes an endpoint (once) and a conversation with n queued calls.
func seedConversation(t testing.TB, s *store.Store, session string, n int) store.Conversation {
	t.Helper()
	ctx := context.Background()
	e, err := s.EndpointByToken(ctx, "tok")
	if errors.Is(err, store.ErrNotFound) {
		e = store.Endpoint{OrganisationID: 1, Name: "E", URLToken: "tok"}
		err = s.CreateEndpoint(ctx, &e)
	}
	if err != nil {
		t.Fatal(err)
	}
	c := store.Conversation{EndpointID: e.ID, SessionID: session, UserID: "u", CustomerID: "c-" + session, State: store.StateQueued}
	if err := s.CreateConversation(ctx, &c); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := s.InsertOutbox(ctx, &store.OutboxItem{ConversationID: c.ID, EndpointID: e.ID, Kind: store.OutboxMessage, Payload: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// claimedRow is what the concurrent claim check needs of a claimed row: its
// id, and the group (a conversation, a session) whose order it keeps.
type claimedRow struct {
	id    int64
	group string
}

// claimEverything runs four workers on two instances that claim rows and
// finish each until total are finished, failing on a row claimed twice or
// claimed again once all are finished. It returns each group's row ids in
// the order they were claimed. A worker that finds nothing due (the rest
// are claimed, or wait behind their group's earlier row) looks again
// shortly, until a deadline.
func claimEverything(t *testing.T, instances []*store.Store, total int64, claim func(s *store.Store, owner string) ([]claimedRow, error),
	finish func(s *store.Store, id int64) error) map[string][]int64 {
	t.Helper()
	var (
		mu      sync.Mutex
		claimed = map[int64]string{}
		order   = map[string][]int64{}
		done    atomic.Int64
		wg      sync.WaitGroup
	)
	deadline := time.Now().Add(30 * time.Second)
	for w := range 4 {
		s, owner := instances[w%2], fmt.Sprintf("worker-%d", w)
		wg.Go(func() {
			poll := time.NewTicker(5 * time.Millisecond)
			defer poll.Stop()
			for done.Load() < total {
				if time.Now().After(deadline) {
					t.Errorf("%s: %d of %d rows finished after 30 s", owner, done.Load(), total)
					return
				}
				rows, err := claim(s, owner)
				if err != nil {
					t.Error(err)
					return
				}
				if len(rows) == 0 {
					<-poll.C
					continue
				}
				for _, row := range rows {
					mu.Lock()
					if other, ok := claimed[row.id]; ok {
						t.Errorf("row %d claimed by %s and %s", row.id, other, owner)
					}
					claimed[row.id] = owner
					order[row.group] = append(order[row.group], row.id)
					mu.Unlock()
					if err := finish(s, row.id); err != nil {
						t.Error(err)
					}
					done.Add(1)
				}
			}
			if again, err := claim(s, owner); err != nil || len(again) != 0 {
				t.Errorf("%s claimed %+v (%v) after every row was finished", owner, again, err)
			}
		})
	}
	wg.Wait()
	if int64(len(claimed)) != total {
		t.Fatalf("%d rows claimed, want %d", len(claimed), total)
	}
	for group, ids := range order {
		for i := 1; i < len(ids); i++ {
			if ids[i] < ids[i-1] {
				t.Fatalf("%s finished out of order: %v", group, ids)
			}
		}
	}
	return order
}

func TestTwoInstancesClaimEachOutboxItemOnceAndInConversationOrder(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, d store.Dialect) {
		url := storetest.DatabaseURL(t, d)
		// Two stores on one database: two instances, each with its own connections.
		instances := []*store.Store{storetest.Open(t, url), storetest.Open(t, url)}
		const conversations, perConversation = 8, 15
		for i := range conversations {
			seedConversation(t, instances[0], fmt.Sprintf("s%d", i), perConversation)
		}
		ctx := context.Background()
		claimEverything(t, instances, conversations*perConversation, func(s *store.Store, owner string) ([]claimedRow, error) {
			items, err := s.ClaimDueOutbox(ctx, owner, time.Minute, 3)
			rows := make([]claimedRow, len(items))
			for i, item := range items {
				rows[i] = claimedRow{id: item.ID, group: fmt.Sprint(item.ConversationID)}
			}
			return rows, err
		}, func(s *store.Store, id int64) error {
			return s.MarkOutboxSent(ctx, store.OutboxItem{ID: id}, 1, "", nil)
		})
		if n, _, err := instances[1].OutboxBacklog(ctx); err != nil || n != 0 {
			t.Fatalf("backlog %d, %v", n, err)
		}
	})
}

func TestALeaseKeepsAnItemUntilItRunsOutOrIsReleased(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, d store.Dialect) {
		now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		url := storetest.DatabaseURL(t, d)
		a, b := storetest.OpenWith(t, url, store.Options{Now: clock}), storetest.OpenWith(t, url, store.Options{Now: clock})
		ctx := context.Background()
		seedConversation(t, a, "s1", 2)

		items, err := a.ClaimDueOutbox(ctx, "a", time.Minute, 10)
		if err != nil || len(items) != 1 {
			t.Fatalf("a claimed %v, %v; want the conversation's first item only", items, err)
		}
		if again, _ := b.ClaimDueOutbox(ctx, "b", time.Minute, 10); len(again) != 0 {
			t.Fatalf("b claimed %+v while a holds the lease", again)
		}
		now = now.Add(61 * time.Second)
		taken, _ := b.ClaimDueOutbox(ctx, "b", time.Minute, 10)
		if len(taken) != 1 || taken[0].ID != items[0].ID {
			t.Fatalf("after the lease ran out b claimed %+v", taken)
		}
		if err := b.ReleaseOutboxLeasesOf(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		if back, _ := a.ClaimDueOutbox(ctx, "a", time.Minute, 10); len(back) != 1 || back[0].ID != items[0].ID {
			t.Fatalf("a released item was not claimable at once: %+v", back)
		}
	})
}

func TestADuplicateWebhookKeyIsLoggedAsADuplicate(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for i, want := range []bool{false, true, true} {
			key := "integration|Text|m-1"
			w := store.Webhook{ReceivedAt: s.Now(), Verdict: store.VerdictValid, Status: 200, DedupeKey: &key, Body: "{}"}
			dup, err := s.InsertWebhook(ctx, &w)
			if err != nil || dup != want {
				t.Fatalf("webhook %d: duplicate=%v, %v; want %v", i, dup, err, want)
			}
			if dup && (w.Outcome != store.OutcomeDuplicate || w.ProcessedAt == nil) {
				t.Fatalf("duplicate logged as %+v", w)
			}
		}
		unprocessed, err := s.UnprocessedWebhooksAfter(ctx, 0, 10)
		if err != nil || len(unprocessed) != 1 {
			t.Fatalf("unprocessed %d, %v; want only the original", len(unprocessed), err)
		}
		if ok, _ := s.ClaimWebhook(ctx, unprocessed[0].ID, s.Now()); !ok {
			t.Fatal("first claim failed")
		}
		if ok, _ := s.ClaimWebhook(ctx, unprocessed[0].ID, s.Now()); ok {
			t.Fatal("a webhook was claimed twice")
		}
	})
}

func TestRateLimitEntriesAreSharedAndExpire(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, d store.Dialect) {
		now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		url := storetest.DatabaseURL(t, d)
		a, b := storetest.OpenWith(t, url, store.Options{Now: clock}), storetest.OpenWith(t, url, store.Options{Now: clock})
		ctx := context.Background()
		if got, err := a.GetRateLimit(ctx, "login:1.2.3.4"); err != nil || got != nil {
			t.Fatalf("absent entry: %q, %v", got, err)
		}
		if err := a.SetRateLimit(ctx, "login:1.2.3.4", []byte{1, 2, 0, 255}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := a.SetRateLimit(ctx, "login:1.2.3.4", []byte{3, 0}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := a.SetRateLimit(ctx, "forever", []byte("x"), 0); err != nil {
			t.Fatal(err)
		}
		if got, err := b.GetRateLimit(ctx, "login:1.2.3.4"); err != nil || string(got) != "\x03\x00" {
			t.Fatalf("the other instance reads %q, %v", got, err)
		}
		now = now.Add(2 * time.Minute)
		if got, _ := b.GetRateLimit(ctx, "login:1.2.3.4"); got != nil {
			t.Fatalf("expired entry still reads %q", got)
		}
		if n, err := b.DeleteExpiredRateLimits(ctx); err != nil || n != 1 {
			t.Fatalf("pruned %d, %v", n, err)
		}
		if got, _ := b.GetRateLimit(ctx, "forever"); string(got) != "x" {
			t.Fatalf("an entry without expiry reads %q", got)
		}
		if err := a.DeleteRateLimit(ctx, "forever"); err != nil {
			t.Fatal(err)
		}
		if err := a.SetRateLimit(ctx, "k", []byte("v"), time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := a.ResetRateLimits(ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := b.GetRateLimit(ctx, "k"); got != nil {
			t.Fatalf("after reset: %q", got)
		}
	})
}

func TestTimesAndCaseInsensitiveNamesBehaveAlikeOnEveryDialect(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		berlin := time.FixedZone("CET", 3600)
		at := time.Date(2026, 3, 1, 13, 30, 15, 123456000, berlin)
		c := seedConversation(t, s, "s1", 0)
		if _, err := s.MarkAgentJoined(ctx, c.ID, "Max", at, nil); err != nil {
			t.Fatal(err)
		}
		got, err := s.ConversationByID(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.AgentJoinedAt == nil || !got.AgentJoinedAt.Equal(at) {
			t.Fatalf("agent joined at %v, want the instant %v", got.AgentJoinedAt, at)
		}
		if _, err := s.CreateAdmin(ctx, "Alice", "hash"); err != nil {
			t.Fatal(err)
		}
		if a, err := s.AdminByUsername(ctx, "ALICE"); err != nil || a.Username != "Alice" {
			t.Fatalf("admin by another case: %+v, %v", a, err)
		}
		if _, err := s.CreateAdmin(ctx, "alice", "hash"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("a second admin differing in case: %v, want ErrConflict", err)
		}
		if org, err := s.OrganisationByName(ctx, " Default "); err != nil || org.Name != store.DefaultOrganisation {
			t.Fatalf("organisation by another case: %+v, %v", org, err)
		}
	})
}
