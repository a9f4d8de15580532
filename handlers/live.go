package handlers

import (
	"bufio"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/live"
)

// Live streams change signals to console pages over Server-Sent Events. A
// signal only says what changed ("conversation-42"); the page then fetches
// its ordinary fragment, so rendering and authorisation stay in the normal
// handlers (htmx: hx-trigger="sse:conversation-42", live.Topic.Trigger).
type Live struct {
	Broker    *live.Broker
	Heartbeat time.Duration // default 15 s
	// Coalesce limits each topic to one event per this period: the first
	// signal goes out at once, a burst after it becomes one more event at the
	// period's end, so a busy conversation does not make the page refetch for
	// every message and a quiet one is not delayed.
	Coalesce time.Duration // default 200 ms
	Lifetime time.Duration // default 1 h; the browser reconnects
}

// Events answers GET /console/events?topics=conversations,conversation:42.
func (h *Live) Events(c *fiber.Ctx) error {
	var topics []live.Topic
	for _, t := range strings.Split(c.Query("topics"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			topic, ok := live.ConsoleTopic(t)
			if !ok {
				return fiber.NewError(fiber.StatusBadRequest, fmt.Sprintf("Unknown topic %q.", t))
			}
			topics = append(topics, live.Topic(strings.Clone(string(topic))))
		}
	}
	if len(topics) == 0 {
		return fiber.NewError(fiber.StatusBadRequest, "Name the topics to watch: ?topics=conversations,webhooks")
	}
	return live.Stream{
		Broker: h.Broker, Topics: topics,
		Heartbeat: h.Heartbeat, Lifetime: h.Lifetime, Coalesce: cmpDuration(h.Coalesce, 200*time.Millisecond),
		Changed: func(w *bufio.Writer, t live.Topic) error {
			_, err := fmt.Fprintf(w, "event: %s\ndata: changed\n\n", t.Event())
			return err
		},
		Typing: func(w *bufio.Writer, s live.Signal) {
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", s.Topic.TypingEvent(), s.From)
		},
	}.Serve(c)
}
