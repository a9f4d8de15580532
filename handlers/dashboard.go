package handlers

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"handover/store"
	"handover/views"
)

// Dashboard serves the console's front page: the last day in numbers.
type Dashboard struct {
	Store interface {
		DashboardSince(ctx context.Context, since time.Time) (store.Dashboard, error)
	}
	Now func() time.Time
}

const dashboardWindow = 24 * time.Hour

// Page answers GET /.
func (h *Dashboard) Page(c *fiber.Ctx) error {
	props, err := h.props(c)
	if err != nil {
		return err
	}
	return page(c, fiber.StatusOK, "Dashboard", "dashboard", views.DashboardPage(props))
}

// Cards answers GET /dashboard/cards, the fragment live updates fetch.
func (h *Dashboard) Cards(c *fiber.Ctx) error {
	props, err := h.props(c)
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, views.DashboardCards(props))
}

func (h *Dashboard) props(c *fiber.Ctx) (views.DashboardProps, error) {
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	d, err := h.Store.DashboardSince(c.UserContext(), now().Add(-dashboardWindow))
	if err != nil {
		return views.DashboardProps{}, err
	}
	count := func(n int64) string { return strconv.FormatInt(n, 10) }
	list := func(state string) string {
		link := "/conversations?since=24h"
		if state != "" {
			link += "&state=" + state
		}
		return link
	}
	replyNote := fmt.Sprintf("over %d conversations", d.FirstReplies)
	cards := []views.DashboardCard{
		{Key: "requested", Label: "Handovers requested", Value: count(d.Requested), Link: list("")},
		{Key: "queued", Label: "Waiting for an agent", Value: count(d.Queued), Link: list(store.StateQueued)},
		{Key: "connected", Label: "Connected to an agent", Value: count(d.Connected), Link: list(store.StateAgentJoined)},
		{Key: "ended", Label: "Ended", Value: count(d.Ended), Link: list(store.StateEnded)},
		{Key: "failed", Label: "Failed", Value: count(d.Failed), Link: list(store.StateFailed)},
		{Key: "first-reply-median", Label: "Median time to first agent message", Value: formatWait(d.FirstReplyMedian, d.FirstReplies), Link: list(""), Note: replyNote},
		{Key: "first-reply-p95", Label: "95th percentile time to first agent message", Value: formatWait(d.FirstReplyP95, d.FirstReplies), Link: list(""), Note: replyNote},
		{Key: "webhook-rejected", Label: "Webhooks rejected (signature or shape)", Value: count(d.WebhookRejected), Link: "/webhooks?since=24h&verdict=rejected"},
		{Key: "outbox", Label: "Calls waiting for Genesys", Value: count(d.OutboxBacklog), Link: "/api-calls?status=failed",
			Note: backlogNote(d.OutboxBacklog, d.OutboxOldest)},
	}
	return views.DashboardProps{Window: "24 hours", Cards: cards}, nil
}

func formatWait(d time.Duration, samples int) string {
	if samples == 0 {
		return "–"
	}
	if d < time.Minute {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func backlogNote(n int64, oldest time.Duration) string {
	if n == 0 {
		return "nothing waiting"
	}
	return "oldest waiting " + oldest.Round(time.Second).String()
}
