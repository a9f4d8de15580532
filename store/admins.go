package store

import (
	"context"
	"fmt"
	"time"
)

// Admin is a console user.
type Admin struct {
	ID           int64
	Username     string
	PasswordHash string
	CreatedAt    time.Time
}

// AdminByUsername finds an admin, ignoring case.
func (s *Store) AdminByUsername(ctx context.Context, username string) (Admin, error) {
	var a Admin
	if err := s.db.WithContext(ctx).Where("lower(username) = lower(?)", username).Take(&a).Error; err != nil {
		return Admin{}, fmt.Errorf("find admin %q: %w", username, translate(err))
	}
	return a, nil
}

// CreateAdmin adds an admin with an already hashed password.
func (s *Store) CreateAdmin(ctx context.Context, username, passwordHash string) (Admin, error) {
	a := Admin{Username: username, PasswordHash: passwordHash, CreatedAt: s.now()}
	if err := s.db.WithContext(ctx).Create(&a).Error; err != nil {
		return Admin{}, fmt.Errorf("create admin %q: %w", username, translate(err))
	}
	return a, nil
}

// SetAdminPassword replaces an admin's password hash.
func (s *Store) SetAdminPassword(ctx context.Context, adminID int64, passwordHash string) error {
	res := s.db.WithContext(ctx).Model(&Admin{}).Where("id = ?", adminID).Update("password_hash", passwordHash)
	if res.Error != nil {
		return fmt.Errorf("set password of admin %d: %w", adminID, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("set password of admin %d: %w", adminID, ErrNotFound)
	}
	return nil
}
