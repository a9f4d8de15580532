package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// InTx runs fn with a store whose every call is part of one transaction:
// committed when fn returns nil, rolled back otherwise. Use the store fn is
// given, never the outer one, inside fn.
func (s *Store) InTx(ctx context.Context, fn func(tx *Store) error) error {
	return s.db.WithContext(ctx).Transaction(func(db *gorm.DB) error {
		return fn(&Store{db: db, dialect: s.dialect, box: s.box, now: s.now, inTx: true})
	})
}

// Now is the store's clock (pinned in tests).
func (s *Store) Now() time.Time { return s.now() }
