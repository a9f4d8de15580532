package store

import (
	"context"
	"fmt"
	"time"
)

// Session is a signed-in console session, keyed by the hash of its cookie.
type Session struct {
	TokenHash string `gorm:"primaryKey"`
	AdminID   int64
	Admin     Admin
	CSRFToken string `gorm:"column:csrf_token"`
	CreatedAt time.Time
	ExpiresAt time.Time
	// LastSeenAt is when the session was last used, to the minute: one
	// unused for the idle timeout has ended (see UseSession).
	LastSeenAt time.Time
	RemoteIP   string `gorm:"column:remote_ip"`
	UserAgent  string
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
