package store

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// endpointsChannel is the PostgreSQL notification channel on which the
// endpoints table's trigger (migrations/postgres/0023_endpoints_changed.sql)
// announces every committed change, whoever made it.
const endpointsChannel = "handover_endpoints"

// endpointWatchName is the application_name of the watch's connection.
const endpointWatchName = "handover endpoint watch"

// endpointWatch keeps the endpoint cache right on PostgreSQL, where other
// instances (and an operator's psql) write endpoints too. It LISTENs on
// endpointsChannel and empties the cache on every notification. The cache
// answers only while that connection listens: until the first LISTEN, and
// from a lost connection until the next, every read goes to the database,
// because a change in between would not be heard.
//
// A notification arrives once the writing transaction has committed, so
// another instance may answer from the old endpoint for the moment the
// notification takes to arrive (a few milliseconds on a healthy database),
// as it would have for a request that came that moment earlier. A read that
// began before a notification is not kept (endpointCache's generation).
type endpointWatch struct {
	url   string
	log   *slog.Logger
	cache *endpointCache
	event func(string)  // tests: "armed", "disarmed", "changed", "checked"
	check time.Duration // listenCheck; shorter in tests

	once   sync.Once
	cancel context.CancelFunc
	done   chan struct{}
}

func newEndpointWatch(url string, log *slog.Logger, cache *endpointCache, event func(string), check time.Duration) *endpointWatch {
	if event == nil {
		event = func(string) {}
	}
	if check <= 0 {
		check = listenCheck
	}
	return &endpointWatch{url: url, log: log, cache: cache, event: event, check: check, cancel: func() {}, done: make(chan struct{})}
}

// start begins watching, once; Migrate calls it when the trigger exists.
// Until then the cache answers nothing.
func (w *endpointWatch) start() {
	w.once.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		w.cancel = cancel
		go func() {
			defer close(w.done)
			w.run(ctx)
		}()
	})
}

func (w *endpointWatch) run(ctx context.Context) {
	keepListening(ctx, w.log, "endpoint cache (reading every endpoint from the database meanwhile)", w.listen, func() {
		w.cache.disarm()
		w.event("disarmed")
	})
}

// listen holds one LISTEN connection until it fails or ctx ends.
func (w *endpointWatch) listen(ctx context.Context) error {
	conn, err := listenConn(ctx, w.url, endpointWatchName, endpointsChannel)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// From here every change is heard; what changed before is not in the
	// cache, which arming empties.
	w.cache.arm()
	w.event("armed")
	for {
		wait, cancel := context.WithTimeout(ctx, w.check)
		_, err := conn.WaitForNotification(wait)
		cancel()
		switch {
		case err == nil:
			w.cache.invalidate()
			w.event("changed")
		case ctx.Err() != nil:
			return ctx.Err()
		case pgconn.Timeout(err):
			// Nothing heard for a while. A connection whose server vanished
			// without closing it would hear nothing forever: make sure it
			// still answers (a timeout leaves pgx's connection usable).
			ping, cancel := context.WithTimeout(ctx, listenCheck)
			err := conn.Ping(ping)
			cancel()
			if err != nil {
				return fmt.Errorf("check the listening connection: %w", err)
			}
			w.event("checked")
		default:
			return fmt.Errorf("wait for notification: %w", err)
		}
	}
}

// listenCheck is how long the watch listens before it checks its connection,
// and how long that check may take: a connection lost without a word keeps
// the cache answering for at most about twice this. Tests listen for less
// (Options), never check for less.
const listenCheck = 5 * time.Second

// stop ends the watch, if it started, and waits for it.
func (w *endpointWatch) stop() {
	started := true
	w.once.Do(func() { started = false })
	if started {
		w.cancel()
		<-w.done
	}
}
