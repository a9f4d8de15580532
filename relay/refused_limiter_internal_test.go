package relay

import (
	"fmt"
	"testing"
	"time"
)

func TestTheRefusedCountersTrackAFewThousandSourcesAndWriteWhatTheyDrop(t *testing.T) {
	l := newRefusedLimiter(1)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	// The first source goes over its limit, then 10,000 others come.
	l.admit("198.51.100.1", now)
	l.admit("198.51.100.1", now)
	var dropped []sourceMinute
	for i := range 10_000 {
		dropped = append(dropped, l.admit(fmt.Sprintf("10.%d.%d.1", i/256, i%256), now).ended...)
	}
	if n := l.tracked(); n != maxRefusedSources {
		t.Fatalf("%d sources tracked, want at most %d", n, maxRefusedSources)
	}
	if len(dropped) != 1 || dropped[0].source != "198.51.100.1" || dropped[0].counted != 1 {
		t.Fatalf("dropped counts %+v, want the first source's one refusal written when it was dropped", dropped)
	}
	if ended := l.ended(now.Add(time.Minute)); len(ended) != 0 || l.tracked() != 0 {
		t.Fatalf("after the minute: %d counts to write, %d sources tracked; want none of either", len(ended), l.tracked())
	}
}
