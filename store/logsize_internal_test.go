package store

import (
	"slices"
	"testing"
	"time"
)

func TestSizePruningStopsWhereAFullListOfTheOldestRowsRunsOut(t *testing.T) {
	base := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	rows := func(n int, from time.Time, firstID int64) []logRow {
		out := make([]logRow, n)
		for i := range out {
			out[i] = logRow{ID: firstID + int64(i), At: from.Add(time.Duration(i) * time.Second), Size: 10}
		}
		return out
	}
	// A whole batch of webhooks older than the one call: the webhooks after
	// the batch may be older than the call too, so the call waits.
	hooks, calls, _ := oldestUntil(rows(pruneBatch, base, 1), rows(1, base.Add(time.Hour), 1), 1<<40)
	if len(hooks) != pruneBatch || len(calls) != 0 {
		t.Fatalf("took %d webhooks and %d calls, want the batch of webhooks only", len(hooks), len(calls))
	}
	// Lists that hold every row left: taken in time order until the excess is freed.
	hooks, calls, freed := oldestUntil(rows(3, base, 1), rows(3, base.Add(1500*time.Millisecond), 10), 45)
	if !slices.Equal(hooks, []int64{1, 2, 3}) || !slices.Equal(calls, []int64{10, 11}) || freed != 50 {
		t.Fatalf("took webhooks %v and calls %v (%d bytes), want 1, 2, 3 and 10, 11", hooks, calls, freed)
	}
}
