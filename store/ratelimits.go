package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm/clause"
)

// RateLimit is one entry of the key-value table behind rate limiting (the
// sign-in throttle), shared by every instance on the database.
type RateLimit struct {
	Name      string `gorm:"primaryKey"`
	Data      []byte
	ExpiresAt *time.Time // nil: never
}

// GetRateLimit returns the entry's data; nil when it is absent or expired.
func (s *Store) GetRateLimit(ctx context.Context, name string) ([]byte, error) {
	var rows []RateLimit
	err := s.db.WithContext(ctx).Where("name = ? AND (expires_at IS NULL OR expires_at > ?)", name, s.now()).Limit(1).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("read rate limit %q: %w", name, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return rows[0].Data, nil
}

// SetRateLimit stores the entry, replacing what was there; ttl 0 keeps it
// until it is deleted.
func (s *Store) SetRateLimit(ctx context.Context, name string, data []byte, ttl time.Duration) error {
	row := RateLimit{Name: name, Data: data}
	if ttl > 0 {
		until := s.now().Add(ttl)
		row.ExpiresAt = &until
	}
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "name"}},
		DoUpdates: clause.AssignmentColumns([]string{"data", "expires_at"}),
	}).Create(&row).Error
	if err != nil {
		return fmt.Errorf("write rate limit %q: %w", name, err)
	}
	return nil
}

// DeleteRateLimit removes one entry.
func (s *Store) DeleteRateLimit(ctx context.Context, name string) error {
	if err := s.db.WithContext(ctx).Where("name = ?", name).Delete(&RateLimit{}).Error; err != nil {
		return fmt.Errorf("delete rate limit %q: %w", name, err)
	}
	return nil
}

// ResetRateLimits removes every entry.
func (s *Store) ResetRateLimits(ctx context.Context) error {
	if err := s.db.WithContext(ctx).Where("1 = 1").Delete(&RateLimit{}).Error; err != nil {
		return fmt.Errorf("reset rate limits: %w", err)
	}
	return nil
}

// DeleteExpiredRateLimits prunes entries whose time is up.
func (s *Store) DeleteExpiredRateLimits(ctx context.Context) (int64, error) {
	res := s.db.WithContext(ctx).Where("expires_at IS NOT NULL AND expires_at <= ?", s.now()).Delete(&RateLimit{})
	if res.Error != nil {
		return 0, fmt.Errorf("delete expired rate limits: %w", res.Error)
	}
	return res.RowsAffected, nil
}
