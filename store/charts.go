package store

import (
	"context"
	"fmt"
	"time"
)

// ChartQuery picks the dashboard's charts: Buckets intervals of Step each,
// the last ending at To, for one endpoint or (EndpointID 0) all.
type ChartQuery struct {
	To         time.Time
	Step       time.Duration
	Buckets    int
	EndpointID int64
}

// From is where the first interval starts.
func (q ChartQuery) From() time.Time { return q.To.Add(-time.Duration(q.Buckets) * q.Step) }

// Charts are the dashboard's time series, one value per interval.
type Charts struct {
	Starts []time.Time // where each interval starts

	// Handovers by what happened in the interval.
	Requested, Connected, Ended, Failed []int64

	// Time from the handover to the first agent message, for the handovers
	// requested in the interval that got one; Replies is how many.
	FirstReplyMedian, FirstReplyP95 []time.Duration
	Replies                         []int

	// Webhooks received, by verdict (VerdictValid, VerdictMismatch, …); only
	// the verdicts that occurred are present.
	Verdicts map[string][]int64

	// Genesys calls by outcome: answered 2xx/3xx, throttled (429), server
	// errors (5xx) and other failures (4xx, transport errors, timeouts).
	CallsOK, CallsThrottled, CallsServerError, CallsOtherFailed []int64
}

// Call outcome classes of the Genesys call chart.
const (
	callOK          = "ok"
	callThrottled   = "throttled"
	callServerError = "server_error"
	callOther       = "other"
)

// DashboardCharts computes the dashboard's series. Each series is one
// GROUP BY over an indexed time column, so a chart costs one range scan of
// its interval whatever the table's size (docs/performance.md).
func (s *Store) DashboardCharts(ctx context.Context, q ChartQuery) (Charts, error) {
	if q.Buckets <= 0 || q.Step <= 0 {
		return Charts{}, fmt.Errorf("chart query: %d buckets of %s", q.Buckets, q.Step)
	}
	c := Charts{Starts: make([]time.Time, q.Buckets), Verdicts: map[string][]int64{}}
	for i := range c.Starts {
		c.Starts[i] = q.From().Add(time.Duration(i) * q.Step)
	}
	zeros := func() []int64 { return make([]int64, q.Buckets) }
	c.Requested, c.Connected, c.Ended, c.Failed = zeros(), zeros(), zeros(), zeros()
	c.CallsOK, c.CallsThrottled, c.CallsServerError, c.CallsOtherFailed = zeros(), zeros(), zeros(), zeros()

	conversationSeries := []struct {
		column, state string
		into          []int64
	}{
		{"created_at", "", c.Requested},
		{"agent_joined_at", "", c.Connected},
		{"ended_at", StateEnded, c.Ended},
		{"ended_at", StateFailed, c.Failed},
	}
	for _, series := range conversationSeries {
		where, args := "", []any{}
		if series.state != "" {
			where, args = "state = ?", append(args, series.state)
		}
		err := s.countByBucket(ctx, q, "conversations", series.column, "CAST('' AS TEXT)", where, args, func(_ string, i int, n int64) {
			series.into[i] = n
		})
		if err != nil {
			return c, err
		}
	}
	err := s.countByBucket(ctx, q, "webhooks", "received_at", "verdict", "", nil, func(verdict string, i int, n int64) {
		if c.Verdicts[verdict] == nil {
			c.Verdicts[verdict] = zeros()
		}
		c.Verdicts[verdict][i] = n
	})
	if err != nil {
		return c, err
	}
	outcome := fmt.Sprintf("CASE WHEN status BETWEEN 200 AND 399 AND error = '' THEN '%s' WHEN status = 429 THEN '%s' WHEN status >= 500 THEN '%s' ELSE '%s' END",
		callOK, callThrottled, callServerError, callOther)
	calls := map[string][]int64{callOK: c.CallsOK, callThrottled: c.CallsThrottled, callServerError: c.CallsServerError, callOther: c.CallsOtherFailed}
	err = s.countByBucket(ctx, q, "api_calls", "created_at", outcome, "", nil, func(class string, i int, n int64) {
		calls[class][i] = n
	})
	if err != nil {
		return c, err
	}
	return c, s.firstReplySeries(ctx, q, &c)
}

// countByBucket counts rows of table per interval of column and per value of
// the SQL expression group, within q's range and endpoint.
func (s *Store) countByBucket(ctx context.Context, q ChartQuery, table, column, group, where string, args []any, add func(group string, bucket int, n int64)) error {
	from := q.From()
	query := s.db.WithContext(ctx).Table(table).
		Select(fmt.Sprintf("%s AS bucket, %s AS grp, count(*) AS n", s.bucketExpr(column, from, q.Step), group)).
		Where(column+" >= ? AND "+column+" < ?", from, q.To)
	if where != "" {
		query = query.Where(where, args...)
	}
	if q.EndpointID != 0 {
		query = query.Where("endpoint_id = ?", q.EndpointID)
	}
	var rows []struct {
		Bucket int64
		Grp    string
		N      int64
	}
	if err := query.Group("bucket, grp").Scan(&rows).Error; err != nil {
		return fmt.Errorf("chart %s by %s: %w", table, column, err)
	}
	for _, r := range rows {
		if r.Bucket >= 0 && r.Bucket < int64(q.Buckets) {
			add(r.Grp, int(r.Bucket), r.N)
		}
	}
	return nil
}

// bucketExpr is the SQL for the interval a time column falls in, counted
// from 0 at from. The dialects spell "seconds since the epoch" differently.
func (s *Store) bucketExpr(column string, from time.Time, step time.Duration) string {
	seconds := int64(step / time.Second)
	if s.dialect == Postgres {
		return fmt.Sprintf("CAST(FLOOR((EXTRACT(EPOCH FROM %s) - %d) / %d) AS BIGINT)", column, from.Unix(), seconds)
	}
	// SQLite keeps times as text with their offset; strftime('%%s') reads both.
	return fmt.Sprintf("((CAST(strftime('%%s', %s) AS INTEGER) - %d) / %d)", column, from.Unix(), seconds)
}

// firstReplySeries fills the time-to-first-agent-message percentiles per
// interval, in Go: the dialects spell percentiles differently, and the
// sample is bounded by maxFirstReplySamples.
func (s *Store) firstReplySeries(ctx context.Context, q ChartQuery, c *Charts) error {
	query := s.db.WithContext(ctx).Model(&Conversation{}).Select("created_at, first_agent_message_at").
		Where("created_at >= ? AND created_at < ? AND first_agent_message_at IS NOT NULL", q.From(), q.To)
	if q.EndpointID != 0 {
		query = query.Where("endpoint_id = ?", q.EndpointID)
	}
	var replies []struct {
		CreatedAt           time.Time
		FirstAgentMessageAt time.Time
	}
	if err := query.Order("id DESC").Limit(maxFirstReplySamples).Scan(&replies).Error; err != nil {
		return fmt.Errorf("chart first replies: %w", err)
	}
	waits := make([][]time.Duration, q.Buckets)
	for _, r := range replies {
		if i := int(r.CreatedAt.Sub(q.From()) / q.Step); i >= 0 && i < q.Buckets {
			waits[i] = append(waits[i], r.FirstAgentMessageAt.Sub(r.CreatedAt))
		}
	}
	c.FirstReplyMedian, c.FirstReplyP95, c.Replies = make([]time.Duration, q.Buckets), make([]time.Duration, q.Buckets), make([]int, q.Buckets)
	for i, w := range waits {
		c.FirstReplyMedian[i], c.FirstReplyP95[i], c.Replies[i] = percentile(w, 50), percentile(w, 95), len(w)
	}
	return nil
}
