package relay

import (
	"context"
	"log/slog"
	"time"
)

// Several instances on one database know each other (docs/scaling.md):
// each heartbeats in the instances table, and each heartbeat also frees
// what dead instances held (outbox leases, ownerships), so their work moves
// on within DeadAfter of their death instead of when a lease runs out.

// InstanceID is this instance's id among the instances on the database.
func (r *Relay) InstanceID() string { return r.instance }

// instanceKeep is how long a dead instance stays listed.
const instanceKeep = time.Hour

// heartbeat says this instance is alive every HeartbeatInterval, and twice
// as often looks for dead instances whose work to take over, until ctx ends.
func (r *Relay) heartbeat(ctx context.Context) {
	tick := time.NewTicker(r.cfg.HeartbeatInterval / 2)
	defer tick.Stop()
	for beats := 0; ; beats++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if beats%2 == 1 {
			if err := r.store.Heartbeat(ctx, r.cfg.Instance); err != nil {
				if ctx.Err() == nil {
					r.log.ErrorContext(ctx, "heartbeat", slog.Any("error", err))
				}
				continue
			}
		}
		freed, err := r.store.ReleaseWorkOfDeadInstances(ctx, r.cfg.DeadAfter)
		if err != nil {
			if ctx.Err() == nil {
				r.log.ErrorContext(ctx, "take over the work of dead instances", slog.Any("error", err))
			}
			continue
		}
		if freed > 0 {
			r.log.WarnContext(ctx, "an instance died holding Genesys calls; the living send them", slog.Int64("calls", freed))
			r.notifyOutbox()
		}
		if beats%200 == 0 {
			if err := r.store.PruneInstances(ctx, instanceKeep); err != nil {
				r.log.ErrorContext(ctx, "prune instances", slog.Any("error", err))
			}
		}
	}
}

// stopInstance tells the others that this instance stopped, once its
// workers have released what they held: they count it dead at once.
func (r *Relay) stopInstance(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.store.ReleaseOwnerships(ctx, r.instance); err != nil {
		r.log.ErrorContext(ctx, "release ownerships", slog.Any("error", err))
	}
	if err := r.store.StopInstance(ctx, r.instance); err != nil {
		r.log.ErrorContext(ctx, "record the stop", slog.Any("error", err))
	}
}
