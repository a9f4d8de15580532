package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

func TestDashboardChartsCountEachIntervalOnBothDatabases(t *testing.T) {
	to := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	storetest.RunDialects(t, func(t *testing.T, d store.Dialect) {
		s := storetest.NewOf(t, d, store.Options{Now: func() time.Time { return to }})
		ctx := context.Background()
		var endpoints []int64
		for _, name := range []string{"A", "B"} {
			e := &store.Endpoint{OrganisationID: 1, Name: name, URLToken: "t-" + name}
			if err := s.CreateEndpoint(ctx, e); err != nil {
				t.Fatal(err)
			}
			endpoints = append(endpoints, e.ID)
		}
		// Hour-long intervals over the last 4 hours: interval 0 starts at 08:00.
		at := func(hour, minute int) time.Time { return time.Date(2026, 3, 1, hour, minute, 0, 0, time.UTC) }
		n := 0
		add := func(endpoint int64, created time.Time, state string, joined, firstReply, ended *time.Time) {
			t.Helper()
			n++
			c := &store.Conversation{EndpointID: endpoint, SessionID: "s" + string(rune('a'+n)), UserID: "u", CustomerID: "c" + string(rune('a'+n)),
				State: state, CreatedAt: created, AgentJoinedAt: joined, FirstAgentMessageAt: firstReply, EndedAt: ended}
			if err := s.CreateConversation(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		ptr := func(t time.Time) *time.Time { return &t }
		add(endpoints[0], at(7, 59), store.StateEnded, nil, nil, ptr(at(8, 5)))                                    // requested before the range, ended in interval 0
		add(endpoints[0], at(8, 0), store.StateAgentJoined, ptr(at(8, 1)), ptr(at(8, 0).Add(10*time.Second)), nil) // interval 0
		add(endpoints[0], at(9, 30), store.StateEnded, ptr(at(10, 10)), ptr(at(9, 30).Add(40*time.Second)), ptr(at(11, 59)))
		add(endpoints[1], at(9, 45), store.StateFailed, nil, nil, ptr(at(9, 46)))
		add(endpoints[1], at(12, 0), store.StateQueued, nil, nil, nil) // at To: outside

		for _, w := range []store.Webhook{
			{EndpointID: &endpoints[0], ReceivedAt: at(8, 30), Verdict: store.VerdictValid, Status: 200},
			{EndpointID: &endpoints[0], ReceivedAt: at(8, 31), Verdict: store.VerdictValid, Status: 200},
			{EndpointID: &endpoints[1], ReceivedAt: at(11, 0), Verdict: store.VerdictMismatch, Status: 401},
		} {
			if _, err := s.InsertWebhook(ctx, &w); err != nil {
				t.Fatal(err)
			}
		}
		for _, call := range []store.APICall{
			{EndpointID: endpoints[0], Method: "POST", Path: "/x", Status: 202, CreatedAt: at(10, 0)},
			{EndpointID: endpoints[0], Method: "POST", Path: "/x", Status: 429, Error: "too many", CreatedAt: at(10, 1)},
			{EndpointID: endpoints[1], Method: "POST", Path: "/x", Status: 503, Error: "down", CreatedAt: at(10, 2)},
			{EndpointID: endpoints[1], Method: "POST", Path: "/x", Status: 0, Error: "timeout", CreatedAt: at(11, 2)},
			{EndpointID: endpoints[1], Method: "POST", Path: "/x", Status: 400, Error: "bad", CreatedAt: at(11, 3)},
		} {
			if err := s.InsertAPICall(ctx, &call); err != nil {
				t.Fatal(err)
			}
		}

		all, err := s.DashboardCharts(ctx, store.ChartQuery{To: to, Step: time.Hour, Buckets: 4})
		if err != nil {
			t.Fatal(err)
		}
		want := func(name string, got, want []int64) {
			t.Helper()
			if !slices.Equal(got, want) {
				t.Errorf("%s = %v, want %v", name, got, want)
			}
		}
		if !all.Starts[0].Equal(at(8, 0)) || !all.Starts[3].Equal(at(11, 0)) {
			t.Errorf("intervals start %v … %v, want 08:00 … 11:00", all.Starts[0], all.Starts[3])
		}
		want("requested", all.Requested, []int64{1, 2, 0, 0})
		want("connected", all.Connected, []int64{1, 0, 1, 0})
		want("ended", all.Ended, []int64{1, 0, 0, 1})
		want("failed", all.Failed, []int64{0, 1, 0, 0})
		want("valid webhooks", all.Verdicts[store.VerdictValid], []int64{2, 0, 0, 0})
		want("mismatched webhooks", all.Verdicts[store.VerdictMismatch], []int64{0, 0, 0, 1})
		want("calls ok", all.CallsOK, []int64{0, 0, 1, 0})
		want("calls throttled", all.CallsThrottled, []int64{0, 0, 1, 0})
		want("calls 5xx", all.CallsServerError, []int64{0, 0, 1, 0})
		want("calls other failures", all.CallsOtherFailed, []int64{0, 0, 0, 2})
		if all.FirstReplyMedian[0] != 10*time.Second || all.FirstReplyMedian[1] != 40*time.Second || all.Replies[1] != 1 || all.Replies[2] != 0 {
			t.Errorf("first replies: medians %v, samples %v", all.FirstReplyMedian, all.Replies)
		}

		b, err := s.DashboardCharts(ctx, store.ChartQuery{To: to, Step: time.Hour, Buckets: 4, EndpointID: endpoints[1]})
		if err != nil {
			t.Fatal(err)
		}
		want("B requested", b.Requested, []int64{0, 1, 0, 0})
		want("B failed", b.Failed, []int64{0, 1, 0, 0})
		want("B connected", b.Connected, []int64{0, 0, 0, 0})
		want("B calls ok", b.CallsOK, []int64{0, 0, 0, 0})
		want("B calls 5xx", b.CallsServerError, []int64{0, 0, 1, 0})
		if _, ok := b.Verdicts[store.VerdictValid]; ok {
			t.Errorf("endpoint B's chart has A's valid webhooks: %v", b.Verdicts)
		}
	})
}
