package store

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/handover-relay/handover/live"
	"github.com/handover-relay/handover/secret"
)

// FanoutChannel is the PostgreSQL notification channel instances share.
const FanoutChannel = "handover_events"

// PostgresFanout carries signals between the instances on one PostgreSQL
// database with LISTEN/NOTIFY: each instance NOTIFYs handover_events with
// what it published, LISTENs on its own connection, and re-publishes locally
// what the others sent, skipping its own by instance id. Signals carry no
// state, so a lost one costs at most a late refresh; after a reconnect every
// local subscriber is told to re-read.
type PostgresFanout struct {
	url      string
	instance string
	log      *slog.Logger
	queue    chan live.Signal
	dropped  atomic.Int64
}

// fanoutQueue bounds the signals waiting to be sent; more are dropped (and
// counted) rather than slowing the request that published them.
const fanoutQueue = 4096

// maxNotifyPayload stays under PostgreSQL's 8000-byte payload limit.
const maxNotifyPayload = 7000

// NewPostgresFanout returns a fanout over the database at databaseURL
// (postgres://…); it connects when Run starts.
func NewPostgresFanout(databaseURL string, logger *slog.Logger) *PostgresFanout {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &PostgresFanout{url: databaseURL, instance: secret.NewToken(8), log: logger, queue: make(chan live.Signal, fanoutQueue)}
}

// Instance is the id this instance's notifications carry.
func (f *PostgresFanout) Instance() string { return f.instance }

// Dropped counts signals not sent because the queue was full.
func (f *PostgresFanout) Dropped() int64 { return f.dropped.Load() }

// Publish queues the signal for the other instances without waiting.
func (f *PostgresFanout) Publish(s live.Signal) {
	select {
	case f.queue <- s:
	default:
		f.dropped.Add(1)
	}
}

// fanoutMessage is one notification's payload.
type fanoutMessage struct {
	Instance string       `json:"i"`
	Signals  []wireSignal `json:"s"`
}

type wireSignal struct {
	Topic    string `json:"t"`
	Kind     string `json:"k"`
	From     string `json:"f,omitempty"`
	Duration int    `json:"d,omitempty"`
}

// Run sends this instance's signals and delivers the others' until ctx ends.
func (f *PostgresFanout) Run(ctx context.Context, deliver func(live.Signal)) error {
	var wg sync.WaitGroup
	wg.Go(func() { f.sendLoop(ctx) })
	keepListening(ctx, f.log, "event fan-out", func(ctx context.Context) error { return f.listen(ctx, deliver) }, func() {})
	wg.Wait()
	return nil
}

// listen holds one LISTEN connection until it fails or ctx ends.
func (f *PostgresFanout) listen(ctx context.Context, deliver func(live.Signal)) error {
	conn, err := listenConn(ctx, f.url, "handover event fan-out", FanoutChannel)
	if err != nil {
		return err
	}
	defer closeListenConn(conn)
	// Whatever was published while nobody listened is lost: every local
	// subscriber re-reads (on the first connect too, for what fell between
	// a subscription and this LISTEN).
	deliver(live.Signal{Topic: live.AllTopics, Kind: live.Changed})
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		var msg fanoutMessage
		if err := json.Unmarshal([]byte(n.Payload), &msg); err != nil {
			f.log.WarnContext(ctx, "event fan-out: unreadable notification", slog.Any("error", err))
			continue
		}
		if msg.Instance == f.instance {
			continue
		}
		for _, s := range msg.Signals {
			deliver(live.Signal{Topic: live.Topic(s.Topic), Kind: live.Kind(s.Kind), From: s.From, Duration: s.Duration})
		}
	}
}

// sendLoop sends queued signals in batches, one NOTIFY per batch, with
// repeated "changed" signals of a topic sent once.
func (f *PostgresFanout) sendLoop(ctx context.Context) {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.WithoutCancel(ctx))
		}
	}()
	backoff := 100 * time.Millisecond
	for {
		var first live.Signal
		select {
		case <-ctx.Done():
			return
		case first = <-f.queue:
		}
		batch := []live.Signal{first}
	drain:
		for len(batch) < 256 {
			select {
			case s := <-f.queue:
				batch = append(batch, s)
			default:
				break drain
			}
		}
		for _, payload := range f.payloads(batch) {
			for attempt := 1; ; attempt++ {
				if conn == nil {
					var err error
					if conn, err = pgx.Connect(ctx, f.url); err != nil {
						conn = nil
						if ctx.Err() != nil {
							return
						}
						f.log.WarnContext(ctx, "event fan-out: cannot connect to send", slog.Any("error", err))
						sleepCtx(ctx, backoff)
						backoff = min(backoff*2, 10*time.Second)
						if attempt < 3 {
							continue
						}
						break
					}
				}
				_, err := conn.Exec(ctx, "SELECT pg_notify($1, $2)", FanoutChannel, payload)
				if err == nil {
					backoff = 100 * time.Millisecond
					break
				}
				conn.Close(context.WithoutCancel(ctx))
				conn = nil
				if ctx.Err() != nil {
					return
				}
				f.log.WarnContext(ctx, "event fan-out: notify failed", slog.Int("attempt", attempt), slog.Any("error", err))
				if attempt >= 3 {
					break
				}
			}
		}
	}
}

// payloads encodes a batch as notifications under the payload limit.
func (f *PostgresFanout) payloads(batch []live.Signal) []string {
	seen := map[live.Topic]bool{}
	var out []string
	msg := fanoutMessage{Instance: f.instance}
	size := 64
	flush := func() {
		if len(msg.Signals) > 0 {
			data, _ := json.Marshal(msg)
			out = append(out, string(data))
		}
		msg.Signals, size = nil, 64
	}
	for _, s := range batch {
		if s.Kind == live.Changed {
			if seen[s.Topic] {
				continue
			}
			seen[s.Topic] = true
		}
		w := wireSignal{Topic: string(s.Topic), Kind: string(s.Kind), From: s.From, Duration: s.Duration}
		encoded, _ := json.Marshal(w)
		n := len(encoded) + 1
		if n > maxNotifyPayload {
			continue // a topic this long is not one of ours
		}
		if size+n > maxNotifyPayload {
			flush()
		}
		msg.Signals = append(msg.Signals, w)
		size += n
	}
	flush()
	return out
}
