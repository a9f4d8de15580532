package handlers

import (
	"bufio"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"handover/relay"
)

// Live streams change signals to console pages over Server-Sent Events. A
// signal only says what changed ("conversation-42"); the page then fetches
// its ordinary fragment, so rendering and authorisation stay in the normal
// handlers (htmx: hx-trigger="sse:conversation-42").
type Live struct {
	Broker    *relay.Broker
	Heartbeat time.Duration // default 15 s
	// Coalesce limits each topic to one event per this period: the first
	// signal goes out at once, a burst after it becomes one more event at the
	// period's end, so a busy conversation does not make the page refetch for
	// every message and a quiet one is not delayed.
	Coalesce time.Duration // default 200 ms
	Lifetime time.Duration // default 1 h; the browser reconnects
}

// consoleTopics are the topics a console page may watch.
var consoleTopics = regexp.MustCompile(`^(conversations|webhooks|apicalls|conversation:[0-9]+)$`)

// SSEEventName is the event name a topic's signals carry in the stream:
// "conversation:42" becomes "conversation-42" (a colon cannot appear in an
// htmx trigger name).
func SSEEventName(topic string) string { return strings.ReplaceAll(topic, ":", "-") }

// Events answers GET /console/events?topics=conversations,conversation:42.
func (h *Live) Events(c *fiber.Ctx) error {
	var topics []string
	for _, t := range strings.Split(c.Query("topics"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			if !consoleTopics.MatchString(t) {
				return fiber.NewError(fiber.StatusBadRequest, fmt.Sprintf("Unknown topic %q.", t))
			}
			topics = append(topics, strings.Clone(t))
		}
	}
	if len(topics) == 0 {
		return fiber.NewError(fiber.StatusBadRequest, "Name the topics to watch: ?topics=conversations,webhooks")
	}
	heartbeat, coalesce, lifetime := cmpDuration(h.Heartbeat, 15*time.Second), cmpDuration(h.Coalesce, 200*time.Millisecond), cmpDuration(h.Lifetime, time.Hour)
	signals, unsubscribe := h.Broker.SubscribeAll(topics...)

	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no")
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer unsubscribe()
		fmt.Fprint(w, "retry: 2000\n\n")
		if w.Flush() != nil {
			return
		}
		ticker := time.NewTicker(heartbeat)
		defer ticker.Stop()
		end := time.NewTimer(lifetime)
		defer end.Stop()
		quietUntil := map[string]time.Time{} // per topic: when the next event may go at once
		pending := map[string]bool{}         // topics signalled while quiet
		var flush <-chan time.Time
		for {
			select {
			case sig, open := <-signals:
				if !open {
					return
				}
				if sig.Kind == "typing" {
					fmt.Fprintf(w, "event: %s-typing\ndata: %s\n\n", SSEEventName(sig.Topic), sig.From)
					break
				}
				now := time.Now()
				if now.After(quietUntil[sig.Topic]) {
					fmt.Fprintf(w, "event: %s\ndata: changed\n\n", SSEEventName(sig.Topic))
					quietUntil[sig.Topic] = now.Add(coalesce)
					break
				}
				pending[sig.Topic] = true
				if flush == nil {
					flush = time.After(time.Until(quietUntil[sig.Topic]))
				}
				continue
			case <-flush:
				now := time.Now()
				for topic := range pending {
					fmt.Fprintf(w, "event: %s\ndata: changed\n\n", SSEEventName(topic))
					quietUntil[topic] = now.Add(coalesce)
				}
				clear(pending)
				flush = nil
			case <-ticker.C:
				fmt.Fprint(w, ": heartbeat\n\n")
			case <-end.C:
				return
			}
			if w.Flush() != nil {
				return
			}
		}
	})
	return nil
}
