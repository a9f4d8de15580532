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
	wrote := s.txWroteEndpoints // a nested transaction commits with its outer one
	if wrote == nil {
		wrote = new(bool)
	}
	err := s.db.WithContext(ctx).Transaction(func(db *gorm.DB) error {
		return fn(&Store{db: db, dialect: s.dialect, box: s.box, now: s.now, inTx: true, endpoints: s.endpoints, txWroteEndpoints: wrote})
	})
	if *wrote && s.txWroteEndpoints == nil {
		// Reads between the write and the commit saw the old row and may
		// have been kept.
		s.endpoints.invalidate()
	}
	return err
}

// Now is the store's clock (pinned in tests).
func (s *Store) Now() time.Time { return s.now() }
