package store

import (
	"context"
	"fmt"
	"time"
)

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

// CreateSession stores a new session, used as of now.
func (s *Store) CreateSession(ctx context.Context, sess *Session) error {
	sess.CreatedAt = s.now()
	sess.LastSeenAt = sess.CreatedAt
	if err := s.db.WithContext(ctx).Omit("Admin").Create(sess).Error; err != nil {
		return fmt.Errorf("create session: %w", translate(err))
	}
	return nil
}

// sessionSeenEvery is how old a session's LastSeenAt may grow before a use
// writes it again: fine enough for the idle timeout, and coarse enough that
// browsing the console is not a write per request.
const sessionSeenEvery = time.Minute

// UseSession returns the live session of tokenHash with its admin, and
// records that it was used. A session is live before its ExpiresAt and while
// its last use is less than idle ago (0: no idle limit); ErrNotFound
// otherwise. LastSeenAt is written only when it is older than a minute (or
// a tenth of idle, if that is shorter).
func (s *Store) UseSession(ctx context.Context, tokenHash string, idle time.Duration) (Session, error) {
	now := s.now()
	q := s.db.WithContext(ctx).Joins("Admin").Where("sessions.token_hash = ? AND sessions.expires_at > ?", tokenHash, now)
	refresh := sessionSeenEvery
	if idle > 0 {
		q = q.Where("sessions.last_seen_at > ?", now.Add(-idle))
		refresh = min(refresh, idle/10)
	}
	var sess Session
	if err := q.Take(&sess).Error; err != nil {
		return Session{}, fmt.Errorf("find session: %w", translate(err))
	}
	if now.Sub(sess.LastSeenAt) >= refresh {
		if err := s.db.WithContext(ctx).Model(&Session{}).Where("token_hash = ?", tokenHash).Update("last_seen_at", now).Error; err != nil {
			return Session{}, fmt.Errorf("record use of session: %w", err)
		}
		sess.LastSeenAt = now
	}
	return sess, nil
}

// DeleteSession signs a session out.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	if err := s.db.WithContext(ctx).Delete(&Session{}, "token_hash = ?", tokenHash).Error; err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteSessionsOfAdmin signs an admin out everywhere, and returns how many
// sessions that ended.
func (s *Store) DeleteSessionsOfAdmin(ctx context.Context, adminID int64) (int64, error) {
	res := s.db.WithContext(ctx).Delete(&Session{}, "admin_id = ?", adminID)
	if res.Error != nil {
		return 0, fmt.Errorf("delete sessions of admin %d: %w", adminID, res.Error)
	}
	return res.RowsAffected, nil
}

// DeleteExpiredSessions prunes sessions that ended before now: past their
// expiry, or unused for idle (0: no idle limit).
func (s *Store) DeleteExpiredSessions(ctx context.Context, idle time.Duration) (int64, error) {
	now := s.now()
	q := s.db.WithContext(ctx).Where("expires_at <= ?", now)
	if idle > 0 {
		q = q.Or("last_seen_at <= ?", now.Add(-idle))
	}
	res := q.Delete(&Session{})
	if res.Error != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", res.Error)
	}
	return res.RowsAffected, nil
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
