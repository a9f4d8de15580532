package store

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Dashboard is what the console's front page counts since a moment.
type Dashboard struct {
	Since     time.Time
	Requested int64 // handovers started
	Queued    int64 // of those, still waiting for an agent
	Connected int64 // of those, an agent joined
	Ended     int64 // back with the bot
	Failed    int64 // never reached Genesys
	// Genesys Bot Connector sessions (state with_bot, or ended by a turn),
	// counted apart from handovers: BotHandedOver completed with the intent
	// handover, BotFailed answered Failed.
	BotSessions, BotHandedOver, BotFailed int64
	FirstReplyMedian                      time.Duration
	FirstReplyP95                         time.Duration
	FirstReplies                          int // how many conversations the percentiles stand on
	WebhookRejected                       int64
	OutboxBacklog                         int64
	OutboxOldest                          time.Duration
	// WaitMedian is the median time from a handover to the agent joining,
	// over Joins handovers; WaitingNow are the handovers waiting now, by
	// endpoint (every one, not only those of the day).
	WaitMedian time.Duration
	Joins      int
	WaitingNow []EndpointWaiting
}

// EndpointWaiting is how many handovers of one endpoint wait for an agent,
// and since when the longest has.
type EndpointWaiting struct {
	EndpointID  int64
	Waiting     int64
	OldestSince time.Time
}

// maxFirstReplySamples bounds the work of the percentiles: the newest this many.
const maxFirstReplySamples = 20000

// DashboardSince counts the conversations started since, and the current backlog.
func (s *Store) DashboardSince(ctx context.Context, since time.Time) (Dashboard, error) {
	d := Dashboard{Since: since}
	db := s.db.WithContext(ctx)
	var counts struct {
		Requested, Queued, Connected, Ended, Failed int64
	}
	// A Bot Connector session is no handover Handover made: it is counted
	// on its own below.
	botSession := "(state = '" + StateWithBot + "' OR end_reason IN ('" + ReasonBotComplete + "', '" + ReasonBotFailed + "'))"
	err := db.Model(&Conversation{}).Where("created_at >= ? AND NOT "+botSession, since).Select(
		"count(*) AS requested, " +
			"coalesce(sum(CASE WHEN state = 'queued' THEN 1 ELSE 0 END), 0) AS queued, " +
			"coalesce(sum(CASE WHEN agent_joined_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS connected, " +
			"coalesce(sum(CASE WHEN state = 'ended' THEN 1 ELSE 0 END), 0) AS ended, " +
			"coalesce(sum(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0) AS failed").
		Scan(&counts).Error
	if err != nil {
		return d, fmt.Errorf("count conversations: %w", err)
	}
	d.Requested, d.Queued, d.Connected, d.Ended, d.Failed = counts.Requested, counts.Queued, counts.Connected, counts.Ended, counts.Failed
	var bots struct{ Sessions, HandedOver, Failed int64 }
	err = db.Model(&Conversation{}).Where("created_at >= ? AND "+botSession, since).Select(
		"count(*) AS sessions, " +
			"coalesce(sum(CASE WHEN end_reason = '" + ReasonBotComplete + "' THEN 1 ELSE 0 END), 0) AS handed_over, " +
			"coalesce(sum(CASE WHEN end_reason = '" + ReasonBotFailed + "' THEN 1 ELSE 0 END), 0) AS failed").
		Scan(&bots).Error
	if err != nil {
		return d, fmt.Errorf("count Bot Connector sessions: %w", err)
	}
	d.BotSessions, d.BotHandedOver, d.BotFailed = bots.Sessions, bots.HandedOver, bots.Failed

	replies, err := s.sinceHandover(ctx, "first_agent_message_at", since)
	if err != nil {
		return d, err
	}
	d.FirstReplies = len(replies)
	d.FirstReplyMedian, d.FirstReplyP95 = percentile(replies, 50), percentile(replies, 95)
	joins, err := s.sinceHandover(ctx, "agent_joined_at", since)
	if err != nil {
		return d, err
	}
	d.Joins, d.WaitMedian = len(joins), percentile(joins, 50)
	var waiting []struct {
		EndpointID int64
		Waiting    int64
		Oldest     int64
	}
	err = db.Model(&Conversation{}).Select("endpoint_id, count(*) AS waiting, min(id) AS oldest").
		Where("ended_at IS NULL AND state = ?", StateQueued).Group("endpoint_id").Order("endpoint_id").Scan(&waiting).Error
	if err != nil {
		return d, fmt.Errorf("count waiting handovers: %w", err)
	}
	for _, w := range waiting {
		// The oldest waiting handover is the one with the smallest id.
		var oldest Conversation
		if err := db.Select("created_at").First(&oldest, w.Oldest).Error; err != nil {
			return d, fmt.Errorf("read the oldest waiting handover: %w", err)
		}
		d.WaitingNow = append(d.WaitingNow, EndpointWaiting{EndpointID: w.EndpointID, Waiting: w.Waiting, OldestSince: oldest.CreatedAt})
	}
	if err := db.Model(&Webhook{}).Where("received_at >= ? AND verdict <> ?", since, VerdictValid).Count(&d.WebhookRejected).Error; err != nil {
		return d, fmt.Errorf("count rejected webhooks: %w", err)
	}
	if d.OutboxBacklog, d.OutboxOldest, err = s.OutboxBacklog(ctx); err != nil {
		return d, err
	}
	return d, nil
}

// percentile is the nearest-rank percentile p of values (0 when empty).
func percentile(values []time.Duration, p int) time.Duration {
	if len(values) == 0 {
		return 0
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 × n)
	return sorted[max(rank, 1)-1]
}

// sinceHandover is how long after the handover each conversation created
// since reached column (a time column of conversations), the newest
// maxFirstReplySamples of those that did. Percentiles are taken in Go: the
// two dialects spell them differently, and the sample is bounded.
func (s *Store) sinceHandover(ctx context.Context, column string, since time.Time) ([]time.Duration, error) {
	var rows []struct {
		CreatedAt time.Time
		Reached   time.Time
	}
	err := s.db.WithContext(ctx).Model(&Conversation{}).Select("created_at, "+column+" AS reached").
		Where("created_at >= ? AND "+column+" IS NOT NULL", since).
		Order("id DESC").Limit(maxFirstReplySamples).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", column, err)
	}
	out := make([]time.Duration, len(rows))
	for i, r := range rows {
		out[i] = r.Reached.Sub(r.CreatedAt)
	}
	return out, nil
}
