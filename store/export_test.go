package store

import (
	"gorm.io/gorm"

	"github.com/handover-relay/handover/live"
)

// DB exposes the gorm handle to the store's own tests.
func DB(s *Store) *gorm.DB { return s.db }

// FanoutPayloads exposes how a batch of signals becomes notifications.
func FanoutPayloads(f *PostgresFanout, batch []live.Signal) []string { return f.payloads(batch) }
