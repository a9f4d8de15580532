package relay

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// queueWorker works a durable queue of the database (the Genesys outbox, the
// bot deliveries): it leases what is due, sends each item on one of its
// slots, and with nothing due waits for a wake-up, the next due time or
// idlePoll, whichever comes first. On the way out it waits for what is in
// flight and gives back the leases it still holds, so that another instance
// (or the next start) takes them over at once.
type queueWorker[T any] struct {
	name    string // for the log
	workers int
	claim   func(ctx context.Context, limit int) ([]T, error)
	// send makes one item's attempt. When chain is true it may return the
	// next item of the same conversation, leased already, for the same slot
	// to send at once.
	send    func(ctx context.Context, item T, chain bool) (next T, leased bool)
	nextDue func(ctx context.Context) (time.Time, bool, error)
	release func(ctx context.Context) error
	wake    chan struct{}
	log     *slog.Logger
}

// maxChain is how many items of one conversation a slot sends in a row.
const maxChain = 32

func (q queueWorker[T]) run(ctx context.Context) {
	slots := make(chan struct{}, q.workers)
	var inFlight sync.WaitGroup
	defer func() {
		inFlight.Wait()
		releaseCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := q.release(releaseCtx); err != nil {
			q.log.ErrorContext(releaseCtx, "release "+q.name+" leases", slog.Any("error", err))
		}
	}()
	for ctx.Err() == nil {
		// Lease only what a free slot sends at once: an item leased while
		// every slot waits for Genesys would wait here too, and no other
		// instance could send it until the lease ran out.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		items, err := q.claim(ctx, 1+cap(slots)-len(slots))
		if err != nil || len(items) == 0 {
			<-slots
		}
		if err != nil {
			if ctx.Err() == nil {
				q.log.ErrorContext(ctx, "claim "+q.name, slog.Any("error", err))
			}
			sleep(ctx, idlePoll)
			continue
		}
		for i, item := range items {
			if i > 0 {
				slots <- struct{}{} // free: only this loop takes slots
			}
			inFlight.Go(func() {
				defer func() { <-slots }()
				// A conversation keeps a slot for at most maxChain calls in
				// a row, so that a busy one does not hold it from the others.
				// An item leased but left unsent when shutting down is given
				// back with the other leases on the way out.
				for n := 1; ; n++ {
					next, leased := q.send(ctx, item, n < maxChain)
					if !leased || ctx.Err() != nil {
						break
					}
					item = next
				}
				// The next item of the same conversation or session may be due now.
				select {
				case q.wake <- struct{}{}:
				default:
				}
			})
		}
		if len(items) > 0 {
			continue
		}
		wait := idlePoll
		if next, ok, err := q.nextDue(ctx); err == nil && ok {
			wait = min(wait, max(time.Until(next), time.Millisecond))
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-q.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}
