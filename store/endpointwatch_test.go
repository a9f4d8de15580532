package store_test

import (
	"context"
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
	if q := queueAtB(); q != "queue-1" {
		t.Fatalf("B read queue %q, want queue-1", q)
	}

	// B answers from its cache: a change nobody announces (the trigger off,
	// as no code of ours does) is not seen.
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	silently := func(queue string) {
		t.Helper()
		for _, stmt := range []string{"ALTER TABLE endpoints DISABLE TRIGGER endpoints_changed",
			"UPDATE endpoints SET queue_id = '" + queue + "'", "ALTER TABLE endpoints ENABLE TRIGGER endpoints_changed"} {
			if _, err := admin.Exec(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
	}
	silently("queue-unannounced")
	if q := queueAtB(); q != "queue-1" {
		t.Fatalf("B read queue %q: it went to the database, not to its cache", q)
	}

	// A change another instance commits empties B's cache.
	e.QueueID = "queue-2"
	if err := a.UpdateEndpoint(ctx, &e); err != nil {
		t.Fatal(err)
	}
	awaitWatch(t, events, "changed")
	if q := queueAtB(); q != "queue-2" {
		t.Fatalf("after A's update B read queue %q, want queue-2", q)
	}

	// A connection that heard nothing for a while is checked, and still hears.
	awaitWatch(t, events, "checked")
	e.QueueID = "queue-3"
	if err := a.UpdateEndpoint(ctx, &e); err != nil {
		t.Fatal(err)
	}
	awaitWatch(t, events, "changed")
	if q := queueAtB(); q != "queue-3" {
		t.Fatalf("after a check B read queue %q, want queue-3", q)
	}

	// The listening connection lost: B may have missed a change, so nothing
	// it kept is answered again, before or after it listens anew.
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'handover endpoint watch'`); err != nil {
		t.Fatal(err)
	}
	awaitWatch(t, events, "disarmed")
	silently("queue-while-deaf")
	awaitWatch(t, events, "armed")
	if q := queueAtB(); q != "queue-while-deaf" {
		t.Fatalf("after listening again B read queue %q, want queue-while-deaf", q)
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
