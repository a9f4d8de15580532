package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

func TestTheLogSizeIsTheRowsTextsPlusAnOverheadPerRow(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e := newEndpoint(t, s, "bot")
		if n, err := s.LogBytes(ctx); err != nil || n != 0 {
			t.Fatalf("empty logs: %d bytes, %v", n, err)
		}
		key := "k1"
		if _, err := s.InsertWebhook(ctx, &store.Webhook{ReceivedAt: consoleBase, Headers: map[string]string{"A": "b"}, Body: "abc",
			Verdict: store.VerdictValid, VerdictDetail: "é", Status: 200, DedupeKey: &key}); err != nil {
			t.Fatal(err)
		}
		if err := s.InsertAPICall(ctx, &store.APICall{EndpointID: e.ID, Method: "GET", Path: "/x", Error: "boom", CreatedAt: consoleBase}); err != nil {
			t.Fatal(err)
		}
		// body 3, headers {"A":"b"} 9, detail é 2 bytes, key 2; GET 3, /x 2, boom 4.
		want := int64(3+9+2+2+store.WebhookRowOverhead) + int64(3+2+4+store.APICallRowOverhead)
		if n, err := s.LogBytes(ctx); err != nil || n != want {
			t.Fatalf("estimated %d bytes, %v; want %d", n, err, want)
		}
	})
}

func TestPruningToSizeDeletesTheOldestRowsOfBothLogsButNoRecentDedupeKey(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e := newEndpoint(t, s, "bot")
		now := consoleBase
		keepKeyedSince := now.Add(-2 * time.Hour) // the replay window
		body := strings.Repeat("x", 1000)
		names := map[int64]string{}
		hook := func(name string, age time.Duration, key string, processed bool) int64 {
			t.Helper()
			w := store.Webhook{ReceivedAt: now.Add(-age), Body: body, Verdict: store.VerdictMismatch, Status: 401}
			if key != "" {
				w.Verdict, w.Status, w.DedupeKey = store.VerdictValid, 200, &key
			}
			if processed {
				at := now.Add(-age)
				w.ProcessedAt = &at
			}
			if _, err := s.InsertWebhook(ctx, &w); err != nil {
				t.Fatal(err)
			}
			names[w.ID] = name
			return w.ID
		}
		calls := map[int64]string{}
		call := func(name string, age time.Duration) {
			t.Helper()
			c := store.APICall{EndpointID: e.ID, Method: "POST", Path: "/api/v2/" + strings.Repeat("p", 500), CreatedAt: now.Add(-age)}
			if err := s.InsertAPICall(ctx, &c); err != nil {
				t.Fatal(err)
			}
			calls[c.ID] = name
		}
		hook("refused 10h ago", 10*time.Hour, "", true)
		call("call 9h ago", 9*time.Hour)
		hook("keyed 8h ago", 8*time.Hour, "old", true)
		call("call 7h ago", 7*time.Hour)
		hook("keyed 1h ago", time.Hour, "recent", true)
		hook("refused 30m ago", 30*time.Minute, "", true)
		hook("unprocessed 20m ago", 20*time.Minute, "waiting", false)
		left := func() string {
			var out []string
			s.ForEachWebhook(ctx, func(w store.Webhook) { out = append(out, names[w.ID]) })
			page, _ := s.ListAPICalls(ctx, store.APICallFilter{})
			for _, c := range page.Rows {
				out = append(out, calls[c.ID])
			}
			return strings.Join(out, ", ")
		}

		total, _ := s.LogBytes(ctx)
		hookSize, callSize := int64(1000+2+store.WebhookRowOverhead), int64(4+508+store.APICallRowOverhead)
		// Just over what the two oldest rows free: the third oldest goes too.
		res, err := s.PruneLogsToSize(ctx, total-hookSize-callSize-1, keepKeyedSince)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := left(), "keyed 1h ago, refused 30m ago, unprocessed 20m ago, call 7h ago"; got != want {
			t.Fatalf("left %q, want %q", got, want)
		}
		if res.Webhooks != 2 || res.APICalls != 1 || res.Bytes > total-hookSize-callSize-1 {
			t.Fatalf("pruned %+v", res)
		}
		if n, _ := s.LogBytes(ctx); n != res.Bytes {
			t.Fatalf("%d bytes left, the prune says %d", n, res.Bytes)
		}

		// A cap that only the rows stopping replays exceed: they stay.
		res, err = s.PruneLogsToSize(ctx, 0, keepKeyedSince)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := left(), "keyed 1h ago, unprocessed 20m ago"; got != want {
			t.Fatalf("left %q, want %q", got, want)
		}
		if res.Webhooks != 1 || res.APICalls != 1 || res.Bytes <= 0 {
			t.Fatalf("pruned %+v; want the logs still over the cap", res)
		}
	})
}
