package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// APICall is one HTTP call made to Genesys.
type APICall struct {
	ID             int64
	EndpointID     int64
	ConversationID *int64
	OutboxID       *int64
	Method         string
	Path           string
	Status         int
	LatencyMS      int64 `gorm:"column:latency_ms"`
	Attempt        int
	Error          string
	CreatedAt      time.Time
}

// InsertAPICall records one HTTP call made to Genesys.
func (s *Store) InsertAPICall(ctx context.Context, call *APICall) error {
	calls := []APICall{*call}
	if err := s.InsertAPICalls(ctx, calls); err != nil {
		return err
	}
	*call = calls[0]
	return nil
}

// InsertAPICalls records several calls, a statement each: one that fails
// leaves those before it recorded (the log of a call is right on its own).
func (s *Store) InsertAPICalls(ctx context.Context, calls []APICall) error {
	now := s.now()
	if err := s.batched(ctx, func(db *gorm.DB) error { return createAPICalls(db, calls, now) }); err != nil {
		return fmt.Errorf("record API calls: %w", err)
	}
	return nil
}

// createAPICalls writes calls on db, a statement each (a call's attempt has
// one or two), those without a time at now.
func createAPICalls(db *gorm.DB, calls []APICall, now time.Time) error {
	for i := range calls {
		c := &calls[i]
		if c.CreatedAt.IsZero() {
			c.CreatedAt = now
		}
		if err := insertOne(db.Statement.Context, db, &c.ID, insertAPICallSQL,
			c.EndpointID, c.ConversationID, c.OutboxID, c.Method, c.Path, c.Status, c.LatencyMS, c.Attempt, c.Error, c.CreatedAt); err != nil {
			return err
		}
	}
	return nil
}

// insertAPICallSQL is the call log's insert, written out: every outbox
// item's sent mark makes one (rawsql.go). TestALoggedAPICallKeepsEveryField
// guards its columns against the struct.
const insertAPICallSQL = `INSERT INTO api_calls (endpoint_id, conversation_id, outbox_id, method, path, status, latency_ms, attempt, error, created_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`

// APICallsOf lists the Genesys calls made for a conversation.
func (s *Store) APICallsOf(ctx context.Context, conversationID int64) ([]APICall, error) {
	var out []APICall
	if err := s.db.WithContext(ctx).Where("conversation_id = ?", conversationID).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list API calls of conversation %d: %w", conversationID, err)
	}
	return out, nil
}

// APICallFilter selects the Genesys calls the console lists.
type APICallFilter struct {
	EndpointID int64
	Status     string // "ok" (2xx/3xx without error), "failed", or "" for all
	Created    TimeRange
	Before     int64
	Limit      int
}

// API call status filters.
const (
	APICallsOK     = "ok"
	APICallsFailed = "failed"
)

// apiCallFailed is how the partial index api_calls_failed says it, so that it is used.
const apiCallFailed = "(status NOT BETWEEN 200 AND 399 OR error <> '')"

// ListAPICalls returns a page of recorded Genesys calls, newest first.
func (s *Store) ListAPICalls(ctx context.Context, f APICallFilter) (Page[APICall], error) {
	q := s.db.WithContext(ctx).Model(&APICall{})
	if f.EndpointID != 0 {
		q = q.Where("endpoint_id = ?", f.EndpointID)
	}
	switch f.Status {
	case APICallsOK:
		q = q.Where("NOT " + apiCallFailed)
	case APICallsFailed:
		q = q.Where(apiCallFailed)
	}
	q = f.Created.apply(q, "created_at")
	p, err := keysetPage(q, f.Before, f.Limit, func(c APICall) int64 { return c.ID })
	if err != nil {
		return Page[APICall]{}, fmt.Errorf("list Genesys calls: %w", err)
	}
	return p, nil
}

// PruneAPICalls deletes the Genesys calls recorded before before, in batches.
func (s *Store) PruneAPICalls(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.pruneBefore(ctx, "api_calls", "created_at", before)
	if err != nil {
		return n, fmt.Errorf("prune Genesys calls: %w", err)
	}
	return n, nil
}
