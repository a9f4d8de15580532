package store

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/handover-relay/handover/migrations"
)

// migrationLockID is an arbitrary constant for pg_advisory_xact_lock, so that
// several instances starting at once migrate one after the other.
const migrationLockID = 7306424848

type migration struct {
	version int
	name    string
	sql     string
}

// Migrate applies the embedded migrations that the database has not seen yet,
// each in its own transaction, recording them in schema_migrations.
func (s *Store) Migrate(ctx context.Context) error {
	all, err := loadMigrations(s.dialect)
	if err != nil {
		return err
	}
	db := s.db.WithContext(ctx)
	err = db.Transaction(func(tx *gorm.DB) error {
		if s.dialect == Postgres {
			// Two instances starting at once would both try to create it.
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", migrationLockID).Error; err != nil {
				return err
			}
		}
		return tx.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	)`).Error
	})
	if err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range all {
		err := db.Transaction(func(tx *gorm.DB) error {
			if s.dialect == Postgres {
				if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", migrationLockID).Error; err != nil {
					return err
				}
			}
			var applied int64
			if err := tx.Raw("SELECT count(*) FROM schema_migrations WHERE version = ?", m.version).Scan(&applied).Error; err != nil {
				return err
			}
			if applied > 0 {
				return nil
			}
			if err := tx.Exec(m.sql).Error; err != nil {
				return err
			}
			return tx.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.version, m.name, time.Now().UTC().Format(time.RFC3339)).Error
		})
		if err != nil {
			return fmt.Errorf("apply migration %s/%s: %w", s.dialect, m.name, err)
		}
	}
	if s.endpointWatch != nil {
		// The triggers the watch relies on exist now.
		s.endpointWatch.start()
	}
	return nil
}

func loadMigrations(dialect Dialect) ([]migration, error) {
	dir := string(dialect)
	entries, err := fs.ReadDir(migrations.FS, dir)
	if err != nil {
		return nil, fmt.Errorf("read %s migrations: %w", dialect, err)
	}
	var out []migration
	for _, entry := range entries {
		name := entry.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		number, _, ok := strings.Cut(name, "_")
		version, err := strconv.Atoi(number)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s/%s: name must start with a number and an underscore", dir, name)
		}
		body, err := fs.ReadFile(migrations.FS, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		out = append(out, migration{version: version, name: name, sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", out[i-1].name, out[i].name, out[i].version)
		}
	}
	return out, nil
}

// AllModels lists every model, for the schema test.
func AllModels() []any {
	return []any{&Organisation{}, &Endpoint{}, &Admin{}, &Session{}, &APIKey{}, &Conversation{}, &Message{}, &OutboxItem{}, &APICall{}, &Webhook{}, &PreflightResult{}, &RateLimit{}, &Erasure{}, &BotConnectorTurn{}}
}
