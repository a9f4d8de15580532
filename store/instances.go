package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Instance is one running Handover on the database (docs/scaling.md).
type Instance struct {
	ID          string `gorm:"primaryKey"`
	Version     string
	Address     string
	StartedAt   time.Time
	HeartbeatAt time.Time
	StoppedAt   *time.Time
}

// Alive tells an instance that has heartbeaten within deadAfter and not stopped.
func (i Instance) Alive(now time.Time, deadAfter time.Duration) bool {
	return i.StoppedAt == nil && now.Sub(i.HeartbeatAt) < deadAfter
}

// Heartbeat registers the instance, or says it is still alive.
func (s *Store) Heartbeat(ctx context.Context, inst Instance) error {
	now := s.now()
	inst.HeartbeatAt, inst.StoppedAt = now, nil
	if inst.StartedAt.IsZero() {
		inst.StartedAt = now
	}
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "id"}},
		DoUpdates: clause.AssignmentColumns([]string{"heartbeat_at", "stopped_at", "version", "address"}),
	}).Create(&inst).Error
	if err != nil {
		return fmt.Errorf("heartbeat of instance %s: %w", inst.ID, err)
	}
	return nil
}

// StopInstance records a graceful stop: the others count the instance dead
// at once, without waiting for its heartbeat to age.
func (s *Store) StopInstance(ctx context.Context, id string) error {
	if err := s.db.WithContext(ctx).Model(&Instance{}).Where("id = ?", id).Update("stopped_at", s.now()).Error; err != nil {
		return fmt.Errorf("record the stop of instance %s: %w", id, err)
	}
	return nil
}

// ListInstances returns every registered instance, the most recently started
// first, with what each owns (ownership names).
func (s *Store) ListInstances(ctx context.Context) ([]Instance, map[string][]Ownership, error) {
	var instances []Instance
	if err := s.db.WithContext(ctx).Order("started_at DESC, id").Find(&instances).Error; err != nil {
		return nil, nil, fmt.Errorf("list instances: %w", err)
	}
	var held []Ownership
	if err := s.db.WithContext(ctx).Where("expires_at > ?", s.now()).Order("name").Find(&held).Error; err != nil {
		return nil, nil, fmt.Errorf("list ownerships: %w", err)
	}
	owns := map[string][]Ownership{}
	for _, o := range held {
		owns[o.Owner] = append(owns[o.Owner], o)
	}
	return instances, owns, nil
}

// OutboxLeasesByOwner counts the Genesys calls each instance holds now.
func (s *Store) OutboxLeasesByOwner(ctx context.Context) (map[string]int64, error) {
	var rows []struct {
		LeaseOwner string
		N          int64
	}
	err := s.db.WithContext(ctx).Model(&OutboxItem{}).Select("lease_owner, COUNT(*) AS n").
		Where("status = ? AND lease_until > ?", OutboxPending, s.now()).Group("lease_owner").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("count outbox leases: %w", err)
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.LeaseOwner] = r.N
	}
	return out, nil
}

// deadInstances selects the ids of instances that stopped or whose
// heartbeat is older than the cutoff.
func (s *Store) deadInstances(tx *gorm.DB, cutoff time.Time) *gorm.DB {
	return tx.Model(&Instance{}).Select("id").Where("stopped_at IS NOT NULL OR heartbeat_at < ?", cutoff)
}

// ReleaseWorkOfDeadInstances frees the outbox leases and the ownerships of
// instances that are dead (stopped, or silent for deadAfter), so that the
// living take their work over now instead of when the leases run out. It
// returns how many outbox items were freed.
func (s *Store) ReleaseWorkOfDeadInstances(ctx context.Context, deadAfter time.Duration) (int64, error) {
	cutoff := s.now().Add(-deadAfter)
	var freed int64
	err := s.InTx(ctx, func(tx *Store) error {
		res := tx.db.Model(&OutboxItem{}).
			Where("status = ? AND lease_until IS NOT NULL AND lease_owner IN (?)", OutboxPending, tx.deadInstances(tx.db, cutoff)).
			Updates(map[string]any{"lease_until": nil, "lease_owner": ""})
		if res.Error != nil {
			return res.Error
		}
		freed = res.RowsAffected
		err := tx.db.Model(&BotDelivery{}).
			Where("status = ? AND lease_until IS NOT NULL AND lease_owner IN (?)", BotDeliveryPending, tx.deadInstances(tx.db, cutoff)).
			Updates(map[string]any{"lease_until": nil, "lease_owner": ""}).Error
		if err != nil {
			return err
		}
		// The streams they held are closed with them.
		if err := tx.db.Where("instance_id IN (?)", tx.deadInstances(tx.db, cutoff)).Delete(&OpenStream{}).Error; err != nil {
			return err
		}
		// An expired ownership keeps its row (and its note); only the owner goes.
		return tx.db.Model(&Ownership{}).Where("owner IN (?)", tx.deadInstances(tx.db, cutoff)).
			Update("expires_at", tx.now()).Error
	})
	if err != nil {
		return 0, fmt.Errorf("release the work of dead instances: %w", err)
	}
	return freed, nil
}

// PruneInstances forgets instances dead for longer than keep.
func (s *Store) PruneInstances(ctx context.Context, keep time.Duration) error {
	if err := s.db.WithContext(ctx).Where("heartbeat_at < ?", s.now().Add(-keep)).Delete(&Instance{}).Error; err != nil {
		return fmt.Errorf("prune instances: %w", err)
	}
	return nil
}

// Ownership is what one instance at a time runs, held until ExpiresAt.
type Ownership struct {
	Name      string `gorm:"primaryKey"`
	Owner     string
	ExpiresAt time.Time
	Data      string // the owner's note to the next (a channel id to reuse)
}

// Own takes or renews the ownership called name for owner until ttl from
// now, when it is free, expired, already owner's, or held by an instance
// that is dead (silent for deadAfter or stopped). It returns whether owner
// holds it, and its note.
func (s *Store) Own(ctx context.Context, name, owner string, ttl, deadAfter time.Duration) (Ownership, bool, error) {
	now := s.now()
	row := Ownership{Name: name, Owner: owner, ExpiresAt: now.Add(ttl)}
	var held bool
	err := s.InTx(ctx, func(tx *Store) error {
		if err := tx.db.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
			return err
		}
		res := tx.db.Model(&Ownership{}).
			Where("name = ? AND (owner = ? OR expires_at <= ? OR owner IN (?))", name, owner, now, tx.deadInstances(tx.db, now.Add(-deadAfter))).
			Updates(map[string]any{"owner": owner, "expires_at": row.ExpiresAt})
		if res.Error != nil {
			return res.Error
		}
		held = res.RowsAffected == 1
		return tx.db.Where("name = ?", name).Take(&row).Error
	})
	if err != nil {
		return Ownership{}, false, fmt.Errorf("own %s: %w", name, err)
	}
	return row, held, nil
}

// SetOwnershipNote records owner's note on what it owns; nothing when
// another instance owns it now.
func (s *Store) SetOwnershipNote(ctx context.Context, name, owner, data string) error {
	if err := s.db.WithContext(ctx).Model(&Ownership{}).Where("name = ? AND owner = ?", name, owner).Update("data", data).Error; err != nil {
		return fmt.Errorf("note on %s: %w", name, err)
	}
	return nil
}

// OwnershipNote reads the note on name; "" when there is none.
func (s *Store) OwnershipNote(ctx context.Context, name string) (string, error) {
	var rows []Ownership
	if err := s.db.WithContext(ctx).Where("name = ?", name).Limit(1).Find(&rows).Error; err != nil {
		return "", fmt.Errorf("read the note on %s: %w", name, err)
	}
	if len(rows) == 0 {
		return "", nil
	}
	return rows[0].Data, nil
}

// NoteUnowned records a note on name for whoever owns it next, when no
// instance owns it now (a preflight that had to make the channel).
func (s *Store) NoteUnowned(ctx context.Context, name, data string) error {
	now := s.now()
	err := s.InTx(ctx, func(tx *Store) error {
		if err := tx.db.Clauses(clause.OnConflict{DoNothing: true}).Create(&Ownership{Name: name, ExpiresAt: now, Data: data}).Error; err != nil {
			return err
		}
		return tx.db.Model(&Ownership{}).Where("name = ? AND (data = '' OR expires_at <= ?)", name, now).Update("data", data).Error
	})
	if err != nil {
		return fmt.Errorf("note on %s: %w", name, err)
	}
	return nil
}

// ReleaseOwnerships gives up everything owner holds (a graceful stop), so
// another instance takes it at its next heartbeat.
func (s *Store) ReleaseOwnerships(ctx context.Context, owner string) error {
	if err := s.db.WithContext(ctx).Model(&Ownership{}).Where("owner = ?", owner).Update("expires_at", s.now()).Error; err != nil {
		return fmt.Errorf("release the ownerships of %s: %w", owner, err)
	}
	return nil
}

// GenesysBudget is the token bucket of one OAuth client's requests to
// Genesys, shared by every instance.
type GenesysBudget struct {
	ClientKey string `gorm:"primaryKey"`
	Tokens    float64
	UpdatedAt time.Time
}

// TakeGenesysBudget takes up to want requests from the OAuth client's bucket
// (refilled at perSecond up to burst), as many as leave at least keep
// behind. It returns how many it took; when none, how long until one could
// be.
func (s *Store) TakeGenesysBudget(ctx context.Context, clientKey string, perSecond, burst, keep float64, want int) (int, time.Duration, error) {
	var (
		taken int
		wait  time.Duration
	)
	err := s.InTx(ctx, func(tx *Store) error {
		now := tx.now()
		if err := tx.db.Clauses(clause.OnConflict{DoNothing: true}).Create(&GenesysBudget{ClientKey: clientKey, Tokens: burst, UpdatedAt: now}).Error; err != nil {
			return err
		}
		q := tx.db.Where("client_key = ?", clientKey)
		if tx.dialect == Postgres {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		var b GenesysBudget
		if err := q.Take(&b).Error; err != nil {
			return err
		}
		tokens := b.Tokens
		if elapsed := now.Sub(b.UpdatedAt); elapsed > 0 { // a clock behind another instance's adds nothing
			tokens = min(burst, tokens+elapsed.Seconds()*perSecond)
		}
		taken = min(want, int(tokens-keep))
		if taken < 1 {
			taken = 0
			wait = time.Duration((keep + 1 - tokens) / perSecond * float64(time.Second))
			return nil
		}
		updatedAt := b.UpdatedAt
		if now.After(updatedAt) {
			updatedAt = now
		}
		return tx.db.Model(&GenesysBudget{}).Where("client_key = ?", clientKey).
			Updates(map[string]any{"tokens": tokens - float64(taken), "updated_at": updatedAt}).Error
	})
	if err != nil {
		return 0, 0, fmt.Errorf("take from the Genesys budget: %w", err)
	}
	return taken, wait, nil
}
