package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

// On PostgreSQL each instance caches the endpoints it read, as on SQLite, and
// hears every change committed by anyone: the endpoints table's trigger
// notifies, and each notification empties the cache (endpointwatch.go).
func TestAnEndpointChangeEmptiesEveryInstancesCache(t *testing.T) {
	url := storetest.DatabaseURL(t, store.Postgres)
	ctx := context.Background()
	a := storetest.Open(t, url)
	events := make(chan string, 256)
	// B checks its connection after 50 ms without a notification.
	b := storetest.OpenWith(t, url, store.WatchingEndpoints(events, 50*time.Millisecond))
	awaitWatch(t, events, "armed")

	e := store.Endpoint{OrganisationID: 1, Name: "watched", URLToken: "token-watched", QueueID: "queue-1"}
	if err := a.CreateEndpoint(ctx, &e); err != nil {
		t.Fatal(err)
	}
	awaitWatch(t, events, "changed") // the insert, one statement
	queueAtB := func() string {
		t.Helper()
		got, err := b.EndpointByToken(ctx, e.URLToken)
		if err != nil {
			t.Fatal(err)
		}
		return got.QueueID
	}
	wantAtB := func(queue, when string) {
		t.Helper()
		if q := queueAtB(); q != queue {
			t.Fatalf("%s B read queue %q, want %q", when, q, queue)
		}
	}
	wantAtB("queue-1", "at first")

	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	// inOneTransaction runs statements as one transaction: no probe sees what
	// is between them.
	inOneTransaction := func(stmts ...string) {
		t.Helper()
		err := pgx.BeginFunc(ctx, admin, func(tx pgx.Tx) error {
			for _, stmt := range stmts {
				if _, err := tx.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("%s: %w", stmt, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	setQueue := func(queue string) string { return "UPDATE endpoints SET queue_id = '" + queue + "'" }
	// silently changes the queue unannounced: the trigger off, as no code of
	// ours does.
	silently := func(queue string) {
		t.Helper()
		inOneTransaction("ALTER TABLE endpoints DISABLE TRIGGER endpoints_changed", setQueue(queue), "ALTER TABLE endpoints ENABLE TRIGGER endpoints_changed")
	}
	// announced changes the queue through A, and waits until B has heard.
	announced := func(queue string) {
		t.Helper()
		e.QueueID = queue
		if err := a.UpdateEndpoint(ctx, &e); err != nil {
			t.Fatal(err)
		}
		awaitWatch(t, events, "changed")
	}

	// B answers from its cache: a change nobody announces is not seen.
	silently("queue-unannounced")
	wantAtB("queue-1", "answering from its cache (not from the database)")

	// A change another instance commits empties B's cache.
	announced("queue-2")
	wantAtB("queue-2", "after A's update")

	// After a probe (nothing heard for a while) B still hears.
	drain(events)
	awaitWatch(t, events, "checked")
	announced("queue-3")
	wantAtB("queue-3", "after a probe")

	// The trigger off: a probe finds it, and B reads the database, every
	// time, until the trigger is back.
	drain(events)
	inOneTransaction("ALTER TABLE endpoints DISABLE TRIGGER endpoints_changed")
	awaitWatch(t, events, "disarmed")
	for _, queue := range []string{"queue-deaf-1", "queue-deaf-2"} {
		inOneTransaction(setQueue(queue))
		wantAtB(queue, "with the trigger off")
	}
	inOneTransaction("ALTER TABLE endpoints ENABLE TRIGGER endpoints_changed")
	awaitWatch(t, events, "armed")
	wantAtB("queue-deaf-2", "with the trigger back")

	// The listening connection lost: B may have missed a change, so nothing
	// it kept is answered again, before or after it listens anew.
	drain(events)
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'handover endpoint watch'`); err != nil {
		t.Fatal(err)
	}
	awaitWatch(t, events, "disarmed")
	silently("queue-while-deaf")
	awaitWatch(t, events, "armed")
	wantAtB("queue-while-deaf", "after listening again")
}

// drain passes over what the endpoint watch reported so far.
func drain(events <-chan string) {
	for {
		select {
		case <-events:
		default:
			return
		}
	}
}

// awaitWatch waits for the endpoint watch to report want, passing over
// other reports.
func awaitWatch(t *testing.T, events <-chan string, want string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case got := <-events:
			if got == want {
				return
			}
		case <-deadline:
			t.Fatalf("the endpoint watch did not report %q within 30 s", want)
		}
	}
}

// An endpoint statement that changes no row announces nothing: a clock skew
// recorded again too soon, or an update that matches nothing, empties no
// instance's cache. Notifications come in commit order, so a marker sent
// after them bounds what they announced.
func TestOnlyAChangedEndpointRowIsAnnounced(t *testing.T) {
	url := storetest.DatabaseURL(t, store.Postgres)
	ctx := context.Background()
	s := storetest.Open(t, url)
	e := newEndpoint(t, s, "quiet")
	listener, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close(ctx)
	if _, err := listener.Exec(ctx, `LISTEN handover_endpoints`); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	for _, later := range []time.Duration{0, 10 * time.Second} { // the second is too soon
		if err := s.RecordClockSkew(ctx, e.ID, -2*time.Hour, at.Add(later)); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.DB(s).Exec(`UPDATE endpoints SET queue_id = queue_id WHERE id = -1`).Error; err != nil {
		t.Fatal(err)
	}
	if err := store.DB(s).Exec(`SELECT pg_notify('handover_endpoints', 'marker')`).Error; err != nil {
		t.Fatal(err)
	}
	changes := 0
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		n, err := listener.WaitForNotification(wait)
		if err != nil {
			t.Fatalf("the marker did not come: %v", err)
		}
		if n.Payload == "marker" {
			break
		}
		if n.Payload == "" {
			changes++
		}
	}
	if changes != 1 {
		t.Fatalf("%d changes announced, want 1 (the first clock skew recorded)", changes)
	}
}
