// Package storetest opens a real, migrated, temporary database for tests:
// a SQLite file in t.TempDir(), or a fresh PostgreSQL database created on the
// server that HANDOVER_TEST_POSTGRES_URL names and dropped when the test ends.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/store"
)

// Key is the fixed secret key tests seal with.
var Key = bytes.Repeat([]byte{7}, secret.KeySize)

// PostgresURLEnv names the variable that holds the URL of a Postgres
// database whose role may CREATE DATABASE. Without it the Postgres variants
// of the tests are skipped (scripts/test.sh says so loudly; CI fails).
const PostgresURLEnv = "HANDOVER_TEST_POSTGRES_URL"

// Dialects are the database families every store test runs on.
var Dialects = []store.Dialect{store.SQLite, store.Postgres}

// New returns a store on a fresh SQLite file in t.TempDir(), migrated and
// closed when the test ends.
func New(t testing.TB) *store.Store {
	t.Helper()
	return Open(t, "sqlite:"+filepath.Join(t.TempDir(), "handover.db"))
}

// NewOf returns a migrated store on a fresh database of the dialect, skipping
// the test when that is Postgres and HANDOVER_TEST_POSTGRES_URL is not set.
func NewOf(t testing.TB, d store.Dialect, opts store.Options) *store.Store {
	t.Helper()
	return OpenWith(t, DatabaseURL(t, d), opts)
}

// ForEachDialect runs fn as a subtest per dialect, each with its own fresh,
// migrated database.
func ForEachDialect(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	RunDialects(t, func(t *testing.T, d store.Dialect) { fn(t, NewOf(t, d, store.Options{})) })
}

// RunDialects runs fn as a subtest per dialect, for tests that open their
// databases themselves (with DatabaseURL or NewOf).
func RunDialects(t *testing.T, fn func(t *testing.T, d store.Dialect)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(string(d), func(t *testing.T) { fn(t, d) })
	}
}

// DatabaseURL returns the URL of a fresh, empty database of the dialect that
// lives as long as the test: a SQLite file, or a Postgres database of its own
// (so tests never see each other's rows and may run in parallel).
func DatabaseURL(t testing.TB, d store.Dialect) string {
	t.Helper()
	switch d {
	case store.SQLite:
		return "sqlite:" + filepath.Join(t.TempDir(), "handover.db")
	case store.Postgres:
		return postgresDatabase(t)
	}
	t.Fatalf("unknown dialect %q", d)
	return ""
}

// PostgresAvailable tells whether HANDOVER_TEST_POSTGRES_URL is set.
func PostgresAvailable() bool { return os.Getenv(PostgresURLEnv) != "" }

// SkipWithoutPostgres skips the test when HANDOVER_TEST_POSTGRES_URL is unset.
func SkipWithoutPostgres(t testing.TB) {
	t.Helper()
	if !PostgresAvailable() {
		t.Skipf("Postgres tests skipped: set %s to a database whose role may CREATE DATABASE (scripts/test-postgres.sh starts one)", PostgresURLEnv)
	}
}

// postgresDatabase creates handover_test_<random> next to the database of
// HANDOVER_TEST_POSTGRES_URL and drops it when the test ends.
func postgresDatabase(t testing.TB) string {
	t.Helper()
	SkipWithoutPostgres(t)
	admin := os.Getenv(PostgresURLEnv)
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", PostgresURLEnv, err)
	}
	var random [6]byte
	rand.Read(random[:])
	name := "handover_test_" + hex.EncodeToString(random[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to %s: %v", PostgresURLEnv, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create test database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		// FORCE: a connection a test left open does not keep the database.
		// An autovacuum worker on it cannot be ended by this role (42501):
		// it finishes soon, so try again a few times, then leave the
		// database to the throwaway cluster rather than fail a passing test.
		drop := "DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize() + " WITH (FORCE)"
		for attempt := 1; ; attempt++ {
			_, err := conn.Exec(ctx, drop)
			if err == nil {
				return
			}
			if attempt == 10 || ctx.Err() != nil {
				t.Logf("test database %s left behind: %v", name, err)
				return
			}
			time.Sleep(time.Duration(attempt) * 100 * time.Millisecond) // a retry pause in clean-up, not a wait for an event
		}
	})
	u.Path = "/" + name
	return u.String()
}

// Open opens and migrates the database at url for the duration of the test.
func Open(t testing.TB, url string) *store.Store {
	t.Helper()
	return OpenWith(t, url, store.Options{})
}

// OpenWith is Open with options (a pinned clock).
func OpenWith(t testing.TB, url string, opts store.Options) *store.Store {
	t.Helper()
	box, err := secret.NewBox(Key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(context.Background(), url, box, opts)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}
