package live

import (
	"bufio"
	"fmt"
	"net"
	"net/http/httputil"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Stream is one Server-Sent Events response: the topics it watches and
// what it writes. Serve owns everything else — the headers, the
// connection, the heartbeat, the lifetime, coalescing and flushing — for
// the bot session stream and the console stream alike.
type Stream struct {
	Broker *Broker
	Topics []Topic
	// Heartbeat is how often an idle stream sends a comment line, which
	// keeps proxies from closing it; 15 s when zero.
	Heartbeat time.Duration
	// Lifetime ends the stream; the client reconnects. 1 h when zero.
	Lifetime time.Duration
	// Coalesce limits each topic to one Changed per this period: the first
	// signal goes out at once, a burst after it becomes one more at the
	// period's end. Zero writes every signal at once.
	Coalesce time.Duration
	// Open writes what the stream starts with, after its retry line. It
	// runs once the topics are subscribed, so nothing falls between the
	// two; an error ends the stream.
	Open func(w *bufio.Writer) error
	// Changed writes the events for a topic that changed; an error ends the stream.
	Changed func(w *bufio.Writer, t Topic) error
	// Typing writes a typing signal.
	Typing func(w *bufio.Writer, s Signal)
	// Closed, when set, is called once the stream has ended (the open
	// stream counts of docs/security.md).
	Closed func()
}

// streamBufferSize holds a few events; a larger write is flushed as it fills.
const streamBufferSize = 1024

// reconnectAfter is the retry every stream starts with.
const reconnectAfter = 2 * time.Second

// setHeaders marks the response as an event stream no proxy should buffer.
func setHeaders(c *fiber.Ctx) {
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
}

// Retry answers with no stream at all, only a retry: line asking an
// EventSource to come back after d, and a comment saying why.
func Retry(c *fiber.Ctx, d time.Duration, why string) error {
	setHeaders(c)
	return c.SendString(fmt.Sprintf("retry: %d\n: %s\n\n", d.Milliseconds(), why))
}

// Serve answers the request with the stream. Copy what Open, Changed and
// Typing need out of c before: they run after the handler has returned.
//
// The stream owns the connection once the headers are out: fasthttp's
// streamed bodies cost a second goroutine, a pipe and two 4 KB buffers per
// stream, and a bot may hold one per waiting customer. The body is chunked
// by hand, a chunk a flush, and closes with the last chunk.
func (s Stream) Serve(c *fiber.Ctx) error {
	s.Heartbeat, s.Lifetime = orDefault(s.Heartbeat, 15*time.Second), orDefault(s.Lifetime, time.Hour)
	setHeaders(c)
	c.Set("X-Accel-Buffering", "no")
	c.Response().Header.SetContentLength(-1)
	c.Response().SetConnectionClose()
	raw := c.Context()
	raw.HijackSetNoResponse(true)
	raw.Hijack(func(conn net.Conn) {
		if s.Closed != nil {
			defer s.Closed()
		}
		// The headers as every middleware left them; the request context
		// lives until this function returns.
		if _, err := conn.Write(raw.Response.Header.Header()); err != nil {
			return
		}
		s.run(conn)
	})
	return nil
}

// run writes the stream to conn until the client goes, the lifetime ends
// or the broker closes.
func (s *Stream) run(conn net.Conn) {
	// Subscribe before Open reads any backlog, so nothing falls between the two.
	signals, unsubscribe := s.Broker.SubscribeAll(s.Topics...)
	defer unsubscribe()
	// A client sends nothing on its stream: a read that returns is the
	// client gone, noticed at once rather than at the next heartbeat.
	gone := make(chan struct{})
	go func() {
		var one [1]byte
		conn.Read(one[:])
		close(gone)
	}()
	defer func() {
		// fasthttp hands the connection's read buffer to another
		// connection as soon as the hijack handler returns: the reader
		// must be done with it first. A deadline in the past ends its Read.
		conn.SetReadDeadline(time.Unix(1, 0))
		<-gone
	}()
	chunks := httputil.NewChunkedWriter(conn)
	defer chunks.Close() // the last chunk: a clean end of the response
	w := bufio.NewWriterSize(chunks, streamBufferSize)
	fmt.Fprintf(w, "retry: %d\n\n", reconnectAfter.Milliseconds())
	if s.Open != nil && shallow(func() error { return s.Open(w) }) != nil || w.Flush() != nil {
		return
	}
	ticker := time.NewTicker(s.Heartbeat)
	defer ticker.Stop()
	end := time.NewTimer(s.Lifetime)
	defer end.Stop()
	var (
		quietUntil map[Topic]time.Time // per topic: when the next Changed may go at once
		pending    map[Topic]bool      // topics signalled while quiet
		flush      <-chan time.Time
	)
	if s.Coalesce > 0 {
		quietUntil, pending = map[Topic]time.Time{}, map[Topic]bool{}
	}
	for {
		select {
		case sig, open := <-signals:
			if !open {
				return // shutting down
			}
			if sig.Kind == Typing {
				if s.Typing != nil {
					s.Typing(w, sig)
				}
				break
			}
			if s.Coalesce > 0 {
				now := time.Now()
				if !now.After(quietUntil[sig.Topic]) {
					pending[sig.Topic] = true
					if flush == nil {
						flush = time.After(time.Until(quietUntil[sig.Topic]))
					}
					continue
				}
				quietUntil[sig.Topic] = now.Add(s.Coalesce)
			}
			if shallow(func() error { return s.Changed(w, sig.Topic) }) != nil {
				return
			}
		case <-flush:
			now := time.Now()
			for topic := range pending {
				if shallow(func() error { return s.Changed(w, topic) }) != nil {
					return
				}
				quietUntil[topic] = now.Add(s.Coalesce)
			}
			clear(pending)
			flush = nil
		case <-ticker.C:
			// A comment line: keeps proxies from closing an idle stream,
			// and the failed flush is how a gone client shows.
			fmt.Fprint(w, ": heartbeat\n\n")
		case <-end.C:
			return
		case <-gone:
			return
		}
		if w.Flush() != nil {
			return
		}
	}
}

// shallow runs fn, which reads the database, on a goroutine of its own and
// waits for it: the stream's goroutine lives as long as the stream, and a
// stack grown to the depth of a query would stay with it (stacks shrink only
// by halves, at garbage collections). The writes fn makes happen before it
// returns, so the two never touch the writer at once.
func shallow(fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	return <-done
}

func orDefault(d, fallback time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return fallback
}
