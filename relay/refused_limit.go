package relay

import (
	"container/list"
	"context"
	"log/slog"
	"sync"
	"time"
)

// The webhook log takes at most RefusedLogPerMinute refused requests per
// minute from one source address as rows. Beyond that, a source's refused
// requests are still answered and counted in the metrics, but only their
// number is kept, and written once as a log line when the minute is over:
// a client sending thousands of forged webhooks a minute costs a counter,
// not thousands of rows.
//
// The counters live in this process (instances do not share them) and are
// bounded: at most maxRefusedSources sources are tracked, and when a new one
// comes the one seen longest ago is dropped, its count written first.

// DefaultRefusedLogPerMinute is how many refused webhooks per source and
// minute the log keeps when Config.RefusedLogPerMinute is zero.
const DefaultRefusedLogPerMinute = 60

// maxRefusedSources bounds the sources whose refusals are counted at once
// (a few hundred bytes each).
const maxRefusedSources = 4096

// refusedLimiter counts refused webhooks per source and minute.
type refusedLimiter struct {
	limit int

	mu      sync.Mutex
	sources map[string]*list.Element // of *sourceMinute
	recent  *list.List               // *sourceMinute, the source seen last first
}

// sourceMinute is what one source's refused webhooks did in one minute.
type sourceMinute struct {
	source  string
	minute  time.Time // when the minute counted began
	logged  int       // refused webhooks logged as rows
	counted int       // further refused webhooks, counted but not logged
}

func newRefusedLimiter(limit int) *refusedLimiter {
	return &refusedLimiter{limit: limit, sources: map[string]*list.Element{}, recent: list.New()}
}

// refusedAdmission is what admit decided for one refused webhook.
type refusedAdmission struct {
	log  bool // store it as a row
	last bool // it is the last row of its source this minute
	// ended are counts whose minute is over (or whose source was dropped
	// to make room), to be written.
	ended []sourceMinute
}

// admit decides whether a refused webhook from source at now is logged as a row.
func (l *refusedLimiter) admit(source string, now time.Time) refusedAdmission {
	minute := now.Truncate(time.Minute)
	l.mu.Lock()
	defer l.mu.Unlock()
	var a refusedAdmission
	el, known := l.sources[source]
	if !known {
		if l.recent.Len() >= maxRefusedSources {
			oldest := l.recent.Back()
			if sm := l.remove(oldest); sm.counted > 0 {
				a.ended = append(a.ended, sm)
			}
		}
		el = l.recent.PushFront(&sourceMinute{source: source, minute: minute})
		l.sources[source] = el
	}
	l.recent.MoveToFront(el)
	sm := el.Value.(*sourceMinute)
	if !sm.minute.Equal(minute) {
		if sm.counted > 0 {
			a.ended = append(a.ended, *sm)
		}
		*sm = sourceMinute{source: source, minute: minute}
	}
	if sm.logged < l.limit {
		sm.logged++
		a.log, a.last = true, sm.logged == l.limit
	} else {
		sm.counted++
	}
	return a
}

// ended removes the sources whose minute is over as of now, and returns the
// counts of those that had refusals beyond the limit.
func (l *refusedLimiter) ended(now time.Time) []sourceMinute {
	minute := now.Truncate(time.Minute)
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []sourceMinute
	for el := l.recent.Back(); el != nil; {
		prev := el.Prev()
		if sm := el.Value.(*sourceMinute); sm.minute.Before(minute) {
			if l.remove(el); sm.counted > 0 {
				out = append(out, *sm)
			}
		}
		el = prev
	}
	return out
}

// tracked is how many sources are counted now.
func (l *refusedLimiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.recent.Len()
}

func (l *refusedLimiter) remove(el *list.Element) sourceMinute {
	sm := el.Value.(*sourceMinute)
	l.recent.Remove(el)
	delete(l.sources, sm.source)
	return *sm
}

// admitRefused decides whether a refused webhook from source is logged as a
// row, writing any counts that are due, and returns what to add to the
// verdict detail of the source's last row this minute ("" otherwise).
func (r *Relay) admitRefused(ctx context.Context, source string) (logRow bool, note string) {
	a := r.refused.admit(source, r.store.Now())
	r.logRefusedCounts(ctx, a.ended)
	if a.last {
		note = "; further refused requests from " + describeSource(source) + " this minute are counted, not logged"
	}
	return a.log, note
}

// FlushRefusedCounts writes the counts of refused webhooks whose minute is
// over; the relay's Run does so every few seconds.
func (r *Relay) FlushRefusedCounts(ctx context.Context) {
	r.logRefusedCounts(ctx, r.refused.ended(r.store.Now()))
}

func (r *Relay) logRefusedCounts(ctx context.Context, counts []sourceMinute) {
	for _, c := range counts {
		r.log.WarnContext(ctx, "refused webhooks counted, not logged",
			slog.Int("count", c.counted), slog.String("source", describeSource(c.source)),
			slog.Time("minute", c.minute), slog.Int("logged", c.logged))
	}
}

// flushRefusedCountsEvery writes the ended minutes' counts until ctx ends,
// and then the counts of the minute under way.
func (r *Relay) flushRefusedCountsEvery(ctx context.Context, interval time.Duration) {
	for ctx.Err() == nil {
		sleep(ctx, interval)
		r.FlushRefusedCounts(ctx)
	}
	r.logRefusedCounts(context.WithoutCancel(ctx), r.refused.ended(r.store.Now().Add(time.Minute)))
}

func describeSource(source string) string {
	if source == "" {
		return "an unknown address"
	}
	return source
}
