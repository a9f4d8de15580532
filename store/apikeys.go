package store

import (
	"context"
	"fmt"
	"time"
)

// APIKey authenticates the JSON admin API. Only its hash is stored; Prefix
// (the first characters) lets admins tell keys apart.
type APIKey struct {
	ID        int64
	Name      string
	Prefix    string
	KeyHash   string
	CreatedAt time.Time
	RevokedAt *time.Time
}

// ListAPIKeys returns every API key, newest first, revoked ones included.
func (s *Store) ListAPIKeys(ctx context.Context) ([]APIKey, error) {
	var keys []APIKey
	if err := s.db.WithContext(ctx).Order("created_at DESC, id DESC").Find(&keys).Error; err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return keys, nil
}

// CreateAPIKey stores a key by its hash. ErrConflict when the hash exists already.
func (s *Store) CreateAPIKey(ctx context.Context, name, prefix, keyHash string) (APIKey, error) {
	k := APIKey{Name: name, Prefix: prefix, KeyHash: keyHash, CreatedAt: s.now()}
	if err := s.db.WithContext(ctx).Create(&k).Error; err != nil {
		return APIKey{}, fmt.Errorf("create API key %q: %w", name, translate(err))
	}
	return k, nil
}

// APIKeyByHash returns an unrevoked key; ErrNotFound otherwise.
func (s *Store) APIKeyByHash(ctx context.Context, keyHash string) (APIKey, error) {
	var k APIKey
	if err := s.db.WithContext(ctx).Where("key_hash = ? AND revoked_at IS NULL", keyHash).Take(&k).Error; err != nil {
		return APIKey{}, fmt.Errorf("find API key: %w", translate(err))
	}
	return k, nil
}

// RevokeAPIKey stops a key from working; revoking twice is ErrNotFound.
func (s *Store) RevokeAPIKey(ctx context.Context, id int64) error {
	now := s.now()
	res := s.db.WithContext(ctx).Model(&APIKey{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", &now)
	if res.Error != nil {
		return fmt.Errorf("revoke API key %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("revoke API key %d: %w", id, ErrNotFound)
	}
	return nil
}
