package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/handover-relay/handover/secret"
)

// endpointsChannel is the PostgreSQL notification channel on which the
// endpoints table's triggers (migrations/postgres/0023_endpoints_changed.sql)
// announces every committed change, whoever made it, with an empty payload.
const endpointsChannel = "handover_endpoints"

// endpointWatchName is the application_name of the watch's connection.
const endpointWatchName = "handover endpoint watch"

// endpointWatch keeps the endpoint cache right on PostgreSQL, where other
// instances (and an operator's psql) write endpoints too. It LISTENs on
// endpointsChannel and empties the cache on every change announced there.
//
// The cache answers only while the watch has shown that a change would be
// heard: a probe sent through the store's own connections, only while the
// triggers are there and enabled, has come back on the listening connection.
// The watch probes before it arms the cache and again after listenCheck
// without a notification. Until the first probe comes back, and from a
// failed one (a lost connection, a disabled trigger, a connection pooler that
// does not pass notifications on) until the next, every read goes to the
// database.
//
// A notification arrives once the writing transaction has committed, so
// another instance may answer from the old endpoint for the moment the
// notification takes (milliseconds on a healthy database). If the path
// breaks without a word, the cache answers for at most two listenChecks
// before a probe fails. A read that began before a notification is not kept
// (endpointCache's generation).
type endpointWatch struct {
	url   string
	log   *slog.Logger
	cache *endpointCache
	// sendProbe notifies payload on endpointsChannel through the store's
	// connections if the trigger is there and enabled, and says whether it did.
	sendProbe func(ctx context.Context, payload string) (bool, error)
	event     func(string)  // tests: "armed", "disarmed", "changed", "checked"
	check     time.Duration // listenCheck; shorter in tests

	probePrefix string // this watch's probes: "probe <random> <n>"
	probes      int

	once   sync.Once
	cancel context.CancelFunc
	done   chan struct{}
}

func newEndpointWatch(url string, cache *endpointCache, sendProbe func(context.Context, string) (bool, error), opts Options) *endpointWatch {
	w := &endpointWatch{url: url, log: opts.Logger, cache: cache, sendProbe: sendProbe, event: opts.endpointWatchEvent, check: opts.endpointWatchCheck,
		probePrefix: "probe " + secret.NewToken(8) + " ", cancel: func() {}, done: make(chan struct{})}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.event == nil {
		w.event = func(string) {}
	}
	if w.check <= 0 {
		w.check = listenCheck
	}
	return w
}

// probeEndpointTrigger is the watch's sendProbe: one statement that notifies
// only when the triggers would (both there, and enabled for ordinary
// sessions: 'O'rigin or 'A'lways).
func (s *Store) probeEndpointTrigger(ctx context.Context, payload string) (bool, error) {
	var sent int64
	err := s.db.WithContext(ctx).Raw(`SELECT count(pg_notify(?, ?)) FROM (
		SELECT 1 FROM pg_trigger WHERE tgrelid = 'endpoints'::regclass
		AND tgname IN ('endpoints_changed', 'endpoints_truncated') AND tgenabled IN ('O', 'A')
		HAVING count(*) = 2) AS enabled`, endpointsChannel, payload).Scan(&sent).Error
	return sent > 0, err
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

// listen holds one LISTEN connection until it, or a probe, fails or ctx ends.
func (w *endpointWatch) listen(ctx context.Context) error {
	conn, err := listenConn(ctx, w.url, endpointWatchName, endpointsChannel)
	if err != nil {
		return err
	}
	defer closeListenConn(conn)
	if err := w.probe(ctx, conn); err != nil {
		return err
	}
	// From here every change is heard; what changed before is not in the
	// cache, which arming empties.
	w.cache.arm()
	w.event("armed")
	for {
		wait, cancel := context.WithTimeout(ctx, w.check)
		n, err := conn.WaitForNotification(wait)
		cancel()
		switch {
		case err == nil:
			w.heard(n.Payload)
		case ctx.Err() != nil:
			return ctx.Err()
		case pgconn.Timeout(err):
			// Nothing heard for a while (a timeout leaves pgx's connection
			// usable): make sure a change still would be.
			if err := w.probe(ctx, conn); err != nil {
				return err
			}
			w.event("checked")
		default:
			return fmt.Errorf("wait for notification: %w", err)
		}
	}
}

// probe sends a probe and waits, within listenCheck, to hear it on conn;
// what else it hears meanwhile counts as usual.
func (w *endpointWatch) probe(ctx context.Context, conn *pgx.Conn) error {
	w.probes++
	payload := w.probePrefix + strconv.Itoa(w.probes)
	wait, cancel := context.WithTimeout(ctx, listenCheck)
	defer cancel()
	sent, err := w.sendProbe(wait, payload)
	if err != nil {
		return fmt.Errorf("send a probe: %w", err)
	}
	if !sent {
		return errors.New("a trigger of the endpoints table (endpoints_changed, endpoints_truncated) is missing or disabled: a change would not be heard")
	}
	for {
		n, err := conn.WaitForNotification(wait)
		if err != nil {
			return fmt.Errorf("a probe was not heard back within %s (a connection pooler that does not pass notifications on?): %w", listenCheck, err)
		}
		if n.Payload == payload {
			return nil
		}
		w.heard(n.Payload)
	}
}

// heard acts on a notification: the trigger's (no payload) is a change; a
// probe, of this watch or another instance's, is not.
func (w *endpointWatch) heard(payload string) {
	if payload == "" {
		w.cache.invalidate()
		w.event("changed")
	}
}

// listenCheck is how long the watch listens before it probes, and how long a
// probe may take. Tests listen for less (Options), never probe for less.
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
