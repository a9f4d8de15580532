// Package storetest opens a real, migrated, temporary database for tests.
package storetest

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"handover/secret"
	"handover/store"
)

// Key is the fixed secret key tests seal with.
var Key = bytes.Repeat([]byte{7}, secret.KeySize)

// New returns a store on a fresh SQLite file in t.TempDir(), migrated and
// closed when the test ends.
func New(t testing.TB) *store.Store {
	t.Helper()
	return Open(t, "sqlite:"+filepath.Join(t.TempDir(), "handover.db"))
}

// Open opens and migrates the database at url for the duration of the test.
func Open(t testing.TB, url string) *store.Store {
	t.Helper()
	box, err := secret.NewBox(Key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(context.Background(), url, box, store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}
