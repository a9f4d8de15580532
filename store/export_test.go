package store

import (
	"time"

	"gorm.io/gorm"

	"github.com/handover-relay/handover/live"
)

// DB exposes the gorm handle to the store's own tests.
func DB(s *Store) *gorm.DB { return s.db }

// FanoutPayloads exposes how a batch of signals becomes notifications.
func FanoutPayloads(f *PostgresFanout, batch []live.Signal) []string { return f.payloads(batch) }

// WatchingEndpoints is Options that report, on events, what the endpoint
// watch did ("armed", "disarmed", "changed", "checked"; PostgreSQL), with
// the watch probing after check without a notification (0: as in production).
func WatchingEndpoints(events chan<- string, check time.Duration) Options {
	return Options{endpointWatchCheck: check, endpointWatchEvent: func(e string) {
		select {
		case events <- e:
		default: // a test that stopped reading does not hold the watch
		}
	}}
}
