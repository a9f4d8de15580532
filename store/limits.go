package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// HitCount is one fixed window of a limit: how many requests it counted.
type HitCount struct {
	Key       string `gorm:"primaryKey"`
	N         int64
	ExpiresAt time.Time
}

// CountHit counts one request against key in the current window of the
// given length, for every instance on the database, and returns the count
// with the window's end. One statement: the count is exact under any
// number of instances.
func (s *Store) CountHit(ctx context.Context, key string, window time.Duration) (int64, time.Time, error) {
	now := s.now()
	start := now.Truncate(window)
	end := start.Add(window)
	windowKey := fmt.Sprintf("%s@%d", key, start.Unix())
	var row HitCount
	err := s.db.WithContext(ctx).Raw(
		`INSERT INTO hit_counts (key, n, expires_at) VALUES (?, 1, ?)
		 ON CONFLICT (key) DO UPDATE SET n = hit_counts.n + 1
		 RETURNING key, n, expires_at`, windowKey, end).Scan(&row).Error
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("count a hit on %s: %w", key, err)
	}
	return row.N, end, nil
}

// DeleteExpiredHitCounts prunes the windows that are over.
func (s *Store) DeleteExpiredHitCounts(ctx context.Context) (int64, error) {
	res := s.db.WithContext(ctx).Where("expires_at <= ?", s.now()).Delete(&HitCount{})
	if res.Error != nil {
		return 0, fmt.Errorf("delete expired hit counts: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// OpenStream is how many event streams one instance holds open for a key.
type OpenStream struct {
	InstanceID string `gorm:"primaryKey"`
	Key        string `gorm:"primaryKey"`
	N          int64
}

// OpenStream counts a stream that instance opens for each key, unless one
// of the keys then has more than its limit open across the live instances:
// then it counts nothing and says which key is full.
func (s *Store) OpenStream(ctx context.Context, instanceID string, limits map[string]int64, deadAfter time.Duration) (full string, err error) {
	err = s.InTx(ctx, func(tx *Store) error {
		cutoff := tx.now().Add(-deadAfter)
		for key, limit := range limits {
			if err := tx.db.Exec(`INSERT INTO open_streams (instance_id, key, n) VALUES (?, ?, 1)
				ON CONFLICT (instance_id, key) DO UPDATE SET n = open_streams.n + 1`, instanceID, key).Error; err != nil {
				return err
			}
			var open int64
			if err := tx.db.Raw(`SELECT COALESCE(SUM(n), 0) FROM open_streams WHERE key = ? AND instance_id NOT IN (?)`,
				key, tx.deadInstances(tx.db, cutoff)).Scan(&open).Error; err != nil {
				return err
			}
			if open > limit {
				full = key
				return errStreamFull
			}
		}
		return nil
	})
	if errors.Is(err, errStreamFull) {
		return full, nil
	}
	if err != nil {
		return "", fmt.Errorf("count an open stream: %w", err)
	}
	return "", nil
}

var errStreamFull = errors.New("stream limit reached")

// CloseStream uncounts a stream OpenStream counted.
func (s *Store) CloseStream(ctx context.Context, instanceID string, keys []string) error {
	err := s.db.WithContext(ctx).Model(&OpenStream{}).Where("instance_id = ? AND key IN ? AND n > 0", instanceID, keys).
		Update("n", gorm.Expr("n - 1")).Error
	if err != nil {
		return fmt.Errorf("count a closed stream: %w", err)
	}
	return nil
}
