package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

func TestAnInstanceSilentForDeadAfterLosesItsOutboxLeasesAndOwnerships(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, d store.Dialect) {
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		s := storetest.OpenWith(t, storetest.DatabaseURL(t, d), store.Options{Now: func() time.Time { return now }})
		ctx := context.Background()
		const deadAfter = 10 * time.Second
		for _, id := range []string{"a", "b"} {
			if err := s.Heartbeat(ctx, store.Instance{ID: id, Version: "v1", Address: "host:1"}); err != nil {
				t.Fatal(err)
			}
		}
		seedConversation(t, s, "s1", 2)
		claimed, err := s.ClaimDueOutbox(ctx, "a", time.Minute, 10)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("a claims %d items, %v; want 1", len(claimed), err)
		}
		if _, held, err := s.Own(ctx, "client-1", "a", deadAfter, deadAfter); err != nil || !held {
			t.Fatalf("a owns client-1: %v, %v", held, err)
		}
		if _, held, err := s.Own(ctx, "client-1", "b", deadAfter, deadAfter); err != nil || held {
			t.Fatalf("b takes client-1 from a living a: %v, %v", held, err)
		}

		// b heartbeats; a falls silent, but not yet for deadAfter.
		now = now.Add(deadAfter - time.Second)
		if err := s.Heartbeat(ctx, store.Instance{ID: "b"}); err != nil {
			t.Fatal(err)
		}
		if freed, err := s.ReleaseWorkOfDeadInstances(ctx, deadAfter); err != nil || freed != 0 {
			t.Fatalf("a is alive: freed %d, %v", freed, err)
		}
		if got, _ := s.ClaimDueOutbox(ctx, "b", time.Minute, 10); len(got) != 0 {
			t.Fatalf("b claimed %d items a holds", len(got))
		}

		now = now.Add(2 * time.Second) // a silent for deadAfter + 1 s
		if err := s.Heartbeat(ctx, store.Instance{ID: "b"}); err != nil {
			t.Fatal(err)
		}
		if freed, err := s.ReleaseWorkOfDeadInstances(ctx, deadAfter); err != nil || freed != 1 {
			t.Fatalf("freed %d, %v; want a's 1 item", freed, err)
		}
		got, err := s.ClaimDueOutbox(ctx, "b", time.Minute, 10)
		if err != nil || len(got) != 1 || got[0].ID != claimed[0].ID {
			t.Fatalf("b claims %v, %v; want a's item %d", got, err, claimed[0].ID)
		}
		// a's ownership ran its course with a (its lease was deadAfter) and
		// b takes it; a, alive again, does not take it back.
		if _, held, err := s.Own(ctx, "client-1", "b", deadAfter, deadAfter); err != nil || !held {
			t.Fatalf("b takes client-1 from a dead a: %v, %v", held, err)
		}
		if err := s.Heartbeat(ctx, store.Instance{ID: "a"}); err != nil {
			t.Fatal(err)
		}
		if _, held, err := s.Own(ctx, "client-1", "a", deadAfter, deadAfter); err != nil || held {
			t.Fatalf("a takes back what b owns: %v, %v", held, err)
		}

		instances, owns, err := s.ListInstances(ctx)
		if err != nil || len(instances) != 2 {
			t.Fatalf("instances %v, %v", instances, err)
		}
		if len(owns["b"]) != 1 || owns["b"][0].Name != "client-1" || len(owns["a"]) != 0 {
			t.Fatalf("ownerships %v; want client-1 with b", owns)
		}
	})
}

func TestAGracefulStopHandsOwnershipsOverAtOnce(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for _, id := range []string{"a", "b"} {
			if err := s.Heartbeat(ctx, store.Instance{ID: id}); err != nil {
				t.Fatal(err)
			}
		}
		if _, held, err := s.Own(ctx, "client-1", "a", time.Minute, time.Minute); err != nil || !held {
			t.Fatalf("a owns: %v, %v", held, err)
		}
		if err := s.SetOwnershipNote(ctx, "client-1", "a", "channel-1"); err != nil {
			t.Fatal(err)
		}
		if err := s.ReleaseOwnerships(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if err := s.StopInstance(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		own, held, err := s.Own(ctx, "client-1", "b", time.Minute, time.Minute)
		if err != nil || !held || own.Data != "channel-1" {
			t.Fatalf("b after a stopped: held %v, note %q, %v; want held with a's channel", held, own.Data, err)
		}
		instances, _, err := s.ListInstances(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, inst := range instances {
			if alive := inst.Alive(s.Now(), time.Minute); alive != (inst.ID == "b") {
				t.Errorf("instance %s alive = %v", inst.ID, alive)
			}
		}
	})
}

func TestOnlyOneOfManyInstancesOwnsAClientAtOnce(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, d store.Dialect) {
		url := storetest.DatabaseURL(t, d)
		ctx := context.Background()
		var wg sync.WaitGroup
		winners := make(chan string, 8)
		for i := range 8 {
			s := storetest.Open(t, url)
			id := string(rune('a' + i))
			if err := s.Heartbeat(ctx, store.Instance{ID: id}); err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				_, held, err := s.Own(ctx, "client-1", id, time.Minute, time.Minute)
				if err != nil {
					t.Error(err)
				}
				if held {
					winners <- id
				}
			})
		}
		wg.Wait()
		close(winners)
		var got []string
		for id := range winners {
			got = append(got, id)
		}
		if len(got) != 1 {
			t.Fatalf("owners %v; want exactly one", got)
		}
	})
}

func TestTheSharedGenesysBudgetRefillsAtItsRateAndKeepsAReserve(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, d store.Dialect) {
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		url := storetest.DatabaseURL(t, d)
		clock := store.Options{Now: func() time.Time { return now }}
		// Two instances, one bucket: 1 request a second, a burst of 6.
		a, b := storetest.OpenWith(t, url, clock), storetest.OpenWith(t, url, clock)
		ctx := context.Background()
		take := func(s *store.Store, keep float64) time.Duration {
			t.Helper()
			n, wait, err := s.TakeGenesysBudget(ctx, "client-1", 1, 6, keep, 1)
			if err != nil || (n == 0) == (wait == 0) {
				t.Fatalf("took %d, wait %s, %v", n, wait, err)
			}
			return wait
		}
		taken := 0
		for i := range 10 {
			if take([]*store.Store{a, b}[i%2], 0) == 0 {
				taken++
			}
		}
		if taken != 6 {
			t.Fatalf("two instances took %d requests from a full bucket of 6; want 6 together", taken)
		}
		if wait := take(a, 0); wait != time.Second {
			t.Fatalf("empty bucket: wait %s; want 1s", wait)
		}
		now = now.Add(4 * time.Second) // four requests back
		if wait := take(a, 3); wait != 0 {
			t.Fatalf("4 tokens, keep 3: wait %s; want taken", wait)
		}
		if wait := take(b, 3); wait != time.Second {
			t.Fatalf("3 tokens, keep 3: wait %s; want 1s (the reserve stays for messages)", wait)
		}
		if wait := take(b, 0); wait != 0 {
			t.Fatalf("a message may use the reserve: wait %s", wait)
		}
		// Another client has its own bucket; a batch takes what there is.
		if n, wait, err := a.TakeGenesysBudget(ctx, "client-2", 1, 6, 0, 10); err != nil || n != 6 || wait != 0 {
			t.Fatalf("client-2, a batch of 10 from a full bucket of 6: took %d, wait %s, %v; want 6", n, wait, err)
		}
	})
}
