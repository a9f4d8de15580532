package relay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/store"
)

// Genesys limits the requests of an OAuth client per minute, shared with
// everything else that uses the client (docs/genesys.md §RateLimits). The
// budget is a token bucket per OAuth client: RequestsPerMinute a minute,
// with a tenth of it as burst. One instance keeps it in memory; several
// instances share one bucket in the database, so that however many run,
// they spend the budget once (docs/scaling.md).

// budget is the request budget of one OAuth client.
type budget interface {
	// take spends one request when at least keep requests remain after it;
	// otherwise it spends nothing and says how long until there would be.
	take(ctx context.Context, keep float64) (time.Duration, error)
	burst() float64
}

// clientKey names an OAuth client: the endpoints that share it share its
// budget and its notification channel, whatever their secret (a rotation
// changes the secret, not the client).
func clientKey(e store.Endpoint) string {
	sum := sha256.Sum256([]byte(e.Host + "\x00" + e.ClientID))
	return hex.EncodeToString(sum[:12])
}

// newBudget is the budget of one OAuth client: in the database when other
// instances may share the client, in memory when this is the only one.
func (r *Relay) newBudget(key string, requestsPerMinute int) budget {
	perMinute := float64(requestsPerMinute)
	burst := max(1, perMinute/10)
	if r.cfg.SingleInstance {
		return memoryBudget{rate.NewLimiter(rate.Limit(perMinute/60), int(burst))}
	}
	return &sharedBudget{store: r.store, key: key, perSecond: perMinute / 60, size: burst}
}

// memoryBudget is one instance's bucket.
type memoryBudget struct{ limiter *rate.Limiter }

func (b memoryBudget) take(_ context.Context, keep float64) (time.Duration, error) {
	now := time.Now()
	tokens := b.limiter.TokensAt(now)
	if tokens >= keep+1 && b.limiter.AllowN(now, 1) {
		return 0, nil
	}
	return max(time.Millisecond, time.Duration((keep+1-tokens)/float64(b.limiter.Limit())*float64(time.Second))), nil
}

func (b memoryBudget) burst() float64 { return float64(b.limiter.Burst()) }

// sharedBudget is the bucket every instance on the database takes from. A
// user's call takes from a small local reserve, refilled from the bucket in
// batches of 50 ms of the rate (one request at Genesys's usual rates), so that
// a high budget does not cost a transaction per call; the reserve is dropped
// when not spent within sharedReserveFor, so it never lets the instances
// together spend more than the bucket gave.
type sharedBudget struct {
	store     *store.Store
	key       string
	perSecond float64
	size      float64

	mu           sync.Mutex
	reserve      int
	reserveUntil time.Time
}

// sharedReserveFor is how long requests taken from the bucket in a batch
// may wait to be spent.
const sharedReserveFor = 100 * time.Millisecond

func (b *sharedBudget) take(ctx context.Context, keep float64) (time.Duration, error) {
	if keep > 0 {
		// Background work: measured against the bucket itself.
		_, wait, err := b.store.TakeGenesysBudget(ctx, b.key, b.perSecond, b.size, keep, 1)
		return wait, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if b.reserve > 0 && now.Before(b.reserveUntil) {
		b.reserve--
		return 0, nil
	}
	batch := max(1, min(int(b.perSecond/20), int(b.size/4)))
	n, wait, err := b.store.TakeGenesysBudget(ctx, b.key, b.perSecond, b.size, 0, batch)
	if err != nil || n == 0 {
		return wait, err
	}
	b.reserve, b.reserveUntil = n-1, now.Add(sharedReserveFor)
	return 0, nil
}

func (b *sharedBudget) burst() float64 { return b.size }

// spend takes one request for a user's call (a message, a receipt, a
// disconnect): these may use the whole budget. It waits up to
// maxLimiterWait; beyond that the call is postponed (errPostponed).
func spend(ctx context.Context, b budget) error {
	deadline := time.Now().Add(maxLimiterWait)
	for {
		wait, err := b.take(ctx, 0)
		if err != nil || wait == 0 {
			return err
		}
		if time.Now().Add(wait).After(deadline) {
			return errPostponed{delay: wait}
		}
		sleep(ctx, wait)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// spendSpare takes one request for background work (a poll) only when half
// the burst stays for user messages; errBudget otherwise.
func spendSpare(ctx context.Context, b budget) error {
	wait, err := b.take(ctx, b.burst()/2)
	if err != nil {
		return err
	}
	if wait > 0 {
		return errBudget
	}
	return nil
}

// spendWaiting takes one request for work that may wait but must not crowd
// out user messages (a preflight, a queue's availability): it waits until
// half the burst would stay, or ctx ends.
func spendWaiting(ctx context.Context, b budget) error {
	for {
		wait, err := b.take(ctx, b.burst()/2)
		if err != nil || wait == 0 {
			return err
		}
		sleep(ctx, wait)
		if ctx.Err() != nil {
			return fmt.Errorf("wait for the request budget: %w", ctx.Err())
		}
	}
}

var errBudget = errors.New("rate budget kept for user messages")

// transient tells an error that says nothing about the settings or the
// request: Genesys unwell, or the budget spent for now. Worth another try.
func transient(err error) bool {
	_, spent := postponed(err)
	return spent || errors.Is(err, errBudget) || genesys.IsRetryable(err)
}

// priority says which part of the budget a Genesys call may use.
type priority int

const (
	// forUser: a call a user waits for (a message, a receipt, the
	// integration lookup it needs, the notification channel that sees the
	// agent leave); it may use the whole budget.
	forUser priority = iota
	// forSpare: background repair (a poll); only when half the burst stays,
	// and never waiting (errBudget).
	forSpare
	// forWaiting: work that may wait for room but must not crowd users out
	// (a preflight, a queue's availability).
	forWaiting
	// forUserNow: a user's call made while the user's request waits (the
	// integration lookup of a first handover): the whole budget, but no
	// waiting for it; the outbox does the call later instead.
	forUserNow
)

type priorityKey struct{}

// withPriority marks the Genesys calls made with ctx.
func withPriority(ctx context.Context, p priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

// spendFor is every Genesys call's budget check (genesys.Config.BeforeCall):
// b is the OAuth client's budget, share the endpoint's fair share of it
// (nil when the endpoint has the client alone), which user calls spend too.
func spendFor(ctx context.Context, b, share budget) error {
	p, _ := ctx.Value(priorityKey{}).(priority)
	switch p {
	case forSpare:
		return spendSpare(ctx, b)
	case forWaiting:
		return spendWaiting(ctx, b)
	case forUserNow:
		for _, from := range []budget{share, b} {
			if from == nil {
				continue
			}
			if wait, err := from.take(ctx, 0); err != nil {
				return err
			} else if wait > 0 {
				return errPostponed{delay: wait}
			}
		}
		return nil
	}
	if share != nil {
		if err := spend(ctx, share); err != nil {
			return err
		}
	}
	return spend(ctx, b)
}

// endpointsSharing is how many endpoints use the OAuth client; 1 until
// watchNotifications has counted.
func (r *Relay) endpointsSharing(key string) int {
	if counts := r.sharing.Load(); counts != nil && (*counts)[key] > 1 {
		return (*counts)[key]
	}
	return 1
}
