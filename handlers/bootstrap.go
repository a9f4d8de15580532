package handlers

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"

	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/store"
)

// BootstrapStore is what the first start needs from the store.
type BootstrapStore interface {
	AdminByUsername(ctx context.Context, username string) (store.Admin, error)
	CreateAdmin(ctx context.Context, username, passwordHash string) (store.Admin, error)
	CreateAPIKey(ctx context.Context, name, prefix, keyHash string) (store.APIKey, error)
}

// EnsureAdmin creates the admin account on first start. With an empty password
// it makes a random one and returns it, so the caller can print it once. An
// existing account is left alone: the variable seeds, it does not reset.
func EnsureAdmin(ctx context.Context, s BootstrapStore, username, password string) (created bool, generated string, err error) {
	if _, err := s.AdminByUsername(ctx, username); err == nil {
		return false, "", nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, "", err
	}
	if password == "" {
		password = secret.NewToken(12)
		generated = password
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return false, "", fmt.Errorf("hash admin password: %w", err)
	}
	if _, err := s.CreateAdmin(ctx, username, string(hash)); err != nil {
		return false, "", err
	}
	return true, generated, nil
}

// SeedAPIKey stores a key given by the operator (HANDOVER_ADMIN_API_KEY). A key
// stored before is left as it is, so revoking it in the console sticks.
func SeedAPIKey(ctx context.Context, s BootstrapStore, key string) error {
	if len(key) < 16 {
		return errors.New("HANDOVER_ADMIN_API_KEY must be at least 16 characters")
	}
	_, err := s.CreateAPIKey(ctx, "HANDOVER_ADMIN_API_KEY", apiKeyPrefix(key), secret.HashToken(key))
	if errors.Is(err, store.ErrConflict) {
		return nil
	}
	return err
}

// apiKeyPrefix is the part of a key the console shows so admins can tell keys apart.
func apiKeyPrefix(key string) string { return truncate(key, 8) }
