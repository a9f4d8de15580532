package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
)

// Outbox kinds: which Genesys call an item makes.
const (
	OutboxMessage    = "message"
	OutboxEvent      = "event"
	OutboxReceipt    = "receipt"
	OutboxStructured = "structured"
	OutboxDisconnect = "disconnect"
)

// Outbox statuses.
const (
	OutboxPending = "pending"
	OutboxSent    = "sent"
	OutboxFailed  = "failed"
)

// OutboxItem is one call to Genesys waiting to be made (or made).
type OutboxItem struct {
	ID             int64
	ConversationID int64
	EndpointID     int64
	MessageID      *int64 // the timeline message whose delivery this is
	Kind           string
	Payload        string // JSON request body
	Status         string
	Attempts       int
	NextAttemptAt  time.Time
	LeaseOwner     string
	LeaseUntil     *time.Time
	LastError      string
	CreatedAt      time.Time
	SentAt         *time.Time
}

// TableName keeps the table's name singular, as a queue's is.
func (OutboxItem) TableName() string { return "outbox" }

// InsertOutbox queues a call to Genesys.
func (s *Store) InsertOutbox(ctx context.Context, item *OutboxItem) error {
	now := s.now()
	if item.Status == "" {
		item.Status = OutboxPending
	}
	if item.NextAttemptAt.IsZero() {
		item.NextAttemptAt = now
	}
	item.CreatedAt = now
	err := insertOne(ctx, s.db, &item.ID, insertOutboxSQL, item.ConversationID, item.EndpointID, item.MessageID, item.Kind,
		item.Payload, item.Status, item.Attempts, item.NextAttemptAt, item.LeaseOwner, item.LeaseUntil, item.LastError, item.CreatedAt, item.SentAt)
	if err != nil {
		return fmt.Errorf("queue %s for Genesys: %w", item.Kind, translate(err))
	}
	return nil
}

// insertOutboxSQL is the outbox's insert, written out: every relayed message
// makes one, in the committer (rawsql.go). TestAQueuedCallKeepsEveryField
// guards its columns against the struct.
const insertOutboxSQL = `INSERT INTO outbox (conversation_id, endpoint_id, message_id, kind, payload, status, attempts, next_attempt_at,
	lease_owner, lease_until, last_error, created_at, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`

// ClaimDueOutbox leases up to limit items that are due: of each
// conversation only the oldest pending one of each lane, so that calls of one
// conversation reach Genesys in the order they were accepted. Receipts (the
// acknowledgements of agent messages) are a lane of their own: they do not
// wait behind a busy conversation's user messages, and a message does not
// wait for them (issue 11; nothing in Genesys orders the two). A lease that
// ran out (its holder died) can be claimed again.
func (s *Store) ClaimDueOutbox(ctx context.Context, owner string, lease time.Duration, limit int) ([]OutboxItem, error) {
	claimed, err := claimDue(ctx, s, leasedQueue[OutboxItem]{table: "outbox", due: outboxDueSQL, columns: outboxColumns, scan: scanOutboxItem,
		id: func(item *OutboxItem) int64 { return item.ID }}, owner, lease, limit)
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	return claimed, nil
}

// outboxDueSQL selects, over the outbox as "q", the calls that are due and
// first in line: of each conversation the oldest pending one of each lane.
// Its two arguments are the time now. The claim (ClaimDueOutbox) and the sent
// mark's lease of the next call (MarkOutboxSentLeasingNext) both take calls
// by it. The statuses and the receipt lane are written in (OutboxPending,
// OutboxReceipt), so that the planner can use the indexes of pending calls,
// whose condition is written the same way.
const outboxDueSQL = `q.status = 'pending' AND q.next_attempt_at <= ? AND (q.lease_until IS NULL OR q.lease_until < ?)
	AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.conversation_id = q.conversation_id AND p.status = 'pending' AND p.id < q.id
		AND (p.kind = 'receipt') = (q.kind = 'receipt'))`

// leaseLaneHeadSQL leases (arguments: owner, until) the first pending call
// of a conversation's lane (the conversation, whether the lane is receipts)
// when outboxDueSQL (now, now) takes it, and returns it. SQLite only: the
// chain of sent marks runs there alone.
const leaseLaneHeadSQL = `UPDATE outbox AS q SET lease_owner = ?, lease_until = ?
	WHERE q.id = (SELECT id FROM outbox WHERE conversation_id = ? AND status = 'pending' AND (kind = 'receipt') = ? ORDER BY id LIMIT 1)
	AND ` + outboxDueSQL + `
	RETURNING ` + outboxColumns

// outboxColumns and scanOutboxItem read an outbox row without gorm's
// reflection (rawsql.go). TestAQueuedCallKeepsEveryField guards the list.
const outboxColumns = `id, conversation_id, endpoint_id, message_id, kind, payload, status, attempts, next_attempt_at, lease_owner,
	lease_until, last_error, created_at, sent_at`

func scanOutboxItem(rows *sql.Rows) (OutboxItem, error) {
	var o OutboxItem
	err := rows.Scan(&o.ID, &o.ConversationID, &o.EndpointID, &o.MessageID, &o.Kind, &o.Payload, &o.Status, &o.Attempts, &o.NextAttemptAt,
		&o.LeaseOwner, &o.LeaseUntil, &o.LastError, &o.CreatedAt, &o.SentAt)
	return o, err
}

// leasedQueue is a table of calls that instances lease by claims (the Genesys
// outbox, the bot deliveries), as claimDue reads and leases it.
type leasedQueue[T any] struct {
	table string
	// due selects, over the table as "q", the rows a claim may take; its two
	// arguments are the time now.
	due string
	// columns and scan read a row without gorm's reflection (rawsql.go).
	columns string
	scan    func(*sql.Rows) (T, error)
	id      func(*T) int64
}

// claimDue leases to owner, for lease, up to limit rows of queue that its due
// selects, oldest first. On PostgreSQL several instances claim at once: each
// skips the rows another has locked. The claim is one written-out
// UPDATE … RETURNING (rawsql.go), in the committer's batch on SQLite.
func claimDue[T any](ctx context.Context, s *Store, queue leasedQueue[T], owner string, lease time.Duration, limit int) ([]T, error) {
	if s.dialect == SQLite && !s.inTx {
		// Most claims find nothing due (every send wakes the worker to
		// look): ask a reader first, so that those do not take the write
		// lock from the requests waiting for it.
		now := s.now()
		_, err := queryOne(ctx, s.db, scanID, "SELECT q.id FROM "+queue.table+" AS q WHERE "+queue.due+" LIMIT 1", now, now)
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
	var claimed []T
	// On SQLite the claim joins the committer's batch (batch.go): it does not
	// take the one writer from the requests' writes for a transaction of its
	// own, and its leases commit with them.
	err := s.InBatch(ctx, func(ctx context.Context, tx *Store) error {
		now := tx.now()
		pick := "SELECT q.id FROM " + queue.table + " AS q WHERE " + queue.due + " ORDER BY q.id LIMIT ?"
		if tx.dialect == Postgres {
			// ARRAY(…) runs the pick once: a subquery that the planner
			// re-ran could lock more rows than limit.
			pick = "= ANY(ARRAY(" + pick + " FOR UPDATE SKIP LOCKED))"
		} else {
			pick = "IN (" + pick + ")"
		}
		var err error
		claimed, err = queryAll(ctx, tx.db, queue.scan, "UPDATE "+queue.table+" SET lease_owner = ?, lease_until = ? WHERE id "+pick+" RETURNING "+queue.columns,
			owner, now.Add(lease), now, now, limit)
		if err != nil {
			return err
		}
		// RETURNING follows no order.
		slices.SortFunc(claimed, func(a, b T) int { return cmp.Compare(queue.id(&a), queue.id(&b)) })
		return nil
	})
	return claimed, err
}

// scanID reads a row of one id.
func scanID(rows *sql.Rows) (int64, error) {
	var id int64
	err := rows.Scan(&id)
	return id, err
}

// MarkOutboxSent records a call Genesys accepted and, when the call carried
// a timeline message, that message's delivery as sent, with the id Genesys
// gave it (genesysMessageID; "" leaves the id alone), and the attempt's
// calls in the call log. One write for the committer, so the outbox worker
// waits for one commit per call.
func (s *Store) MarkOutboxSent(ctx context.Context, item OutboxItem, attempts int, genesysMessageID string, calls []APICall) error {
	_, _, err := s.MarkOutboxSentLeasingNext(ctx, item, attempts, genesysMessageID, calls, "", 0)
	return err
}

// MarkOutboxSentLeasingNext is MarkOutboxSent that also leases to owner, for
// lease, the call that the sent one leaves first in line in its
// conversation's lane, when there is one and it is due, and returns it: the
// sender that made one call of a conversation makes the next at once,
// without a claim, which walks every pending call (docs/performance.md).
// On SQLite only, where the committer runs the mark and the lease as one
// step; on PostgreSQL (and with owner "") it leases nothing, and the claim
// takes the next call as before.
func (s *Store) MarkOutboxSentLeasingNext(ctx context.Context, item OutboxItem, attempts int, genesysMessageID string, calls []APICall,
	owner string, lease time.Duration) (next OutboxItem, leased bool, err error) {
	now := s.now()
	chain := owner != "" && s.batch != nil && !s.inTx
	err = s.batched(ctx, func(db *gorm.DB) error {
		leased = false
		// The message and the call log first: if the outbox's mark then
		// failed, the call would be made again, which neither contradicts
		// (a resend is at-least-once anyway, and logged as a call too).
		ctx := db.Statement.Context
		if item.MessageID != nil {
			if err := setDelivery(db, *item.MessageID, DeliverySent, genesysMessageID, ""); err != nil {
				return fmt.Errorf("set delivery of message %d: %w", *item.MessageID, err)
			}
		}
		if err := createAPICalls(db, calls, now); err != nil {
			return fmt.Errorf("record API calls: %w", err)
		}
		if err := execSQL(ctx, db, "UPDATE outbox SET status = ?, attempts = ?, sent_at = ?, lease_until = NULL, last_error = '' WHERE id = ?",
			OutboxSent, attempts, now, item.ID); err != nil {
			return err
		}
		if !chain {
			return nil
		}
		// One statement takes the lane's head by the index of pending calls
		// (its status is written in the statement, as the index's is), and
		// leases it when the claim's own rule (outboxDueSQL) would take it.
		// Mostly there is none, and the mark pays this one narrow lookup. A
		// failure here is undone alone (batched): the mark stands, and the
		// claim finds the next call instead.
		var leaseErr error
		next, leaseErr = queryOne(ctx, db, scanOutboxItem, leaseLaneHeadSQL, owner, now.Add(lease), item.ConversationID, item.Kind == OutboxReceipt, now, now)
		leased = leaseErr == nil
		return nil
	})
	if err != nil {
		return OutboxItem{}, false, fmt.Errorf("mark outbox item %d sent: %w", item.ID, err)
	}
	return next, leased, nil
}

// RetryOutbox puts an item back for another attempt at next.
func (s *Store) RetryOutbox(ctx context.Context, id int64, attempts int, next time.Time, errText string) error {
	return s.updateOutbox(ctx, id, map[string]any{"attempts": attempts, "next_attempt_at": next, "lease_until": nil, "last_error": errText})
}

// FailOutbox gives up on an item; later items of its conversation go on.
func (s *Store) FailOutbox(ctx context.Context, id int64, attempts int, errText string) error {
	return s.updateOutbox(ctx, id, map[string]any{"status": OutboxFailed, "attempts": attempts, "lease_until": nil, "last_error": errText})
}

func (s *Store) updateOutbox(ctx context.Context, id int64, updates map[string]any) error {
	if err := s.batched(ctx, func(db *gorm.DB) error { return db.Model(&OutboxItem{}).Where("id = ?", id).Updates(updates).Error }); err != nil {
		return fmt.Errorf("update outbox item %d: %w", id, err)
	}
	return nil
}

// ReleaseOutboxLeases frees every lease. Only for a single instance at start
// (SQLite): nobody else can hold a lease, so waiting for them to run out
// would only delay the messages a restart must resume.
func (s *Store) ReleaseOutboxLeases(ctx context.Context) error {
	return s.releaseLeases(ctx, &OutboxItem{}, OutboxPending, nil)
}

// ReleaseOutboxLeasesOf frees the leases owner still holds, so that another
// instance (or this one after a restart) takes those calls over at once
// instead of when the leases run out. For a graceful stop.
func (s *Store) ReleaseOutboxLeasesOf(ctx context.Context, owner string) error {
	return s.releaseLeases(ctx, &OutboxItem{}, OutboxPending, &owner)
}

// releaseLeases frees the leases of a queue's pending rows (the Genesys
// outbox, the bot deliveries): those of owner, or every one when owner is nil.
func (s *Store) releaseLeases(ctx context.Context, model any, pending string, owner *string) error {
	q := s.db.WithContext(ctx).Model(model).Where("status = ? AND lease_until IS NOT NULL", pending)
	if owner != nil {
		q = q.Where("lease_owner = ?", *owner)
	}
	if err := q.Updates(map[string]any{"lease_until": nil, "lease_owner": ""}).Error; err != nil {
		return fmt.Errorf("release leases: %w", err)
	}
	return nil
}

// NextOutboxAttempt is when the earliest pending item becomes due, if any.
func (s *Store) NextOutboxAttempt(ctx context.Context) (time.Time, bool, error) {
	var item OutboxItem
	err := s.db.WithContext(ctx).Where("status = ?", OutboxPending).Order("next_attempt_at").Take(&item).Error
	if err == gorm.ErrRecordNotFound {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("find next outbox attempt: %w", err)
	}
	return item.NextAttemptAt, true, nil
}

// OutboxBacklog counts the calls still waiting, and the age of the oldest.
func (s *Store) OutboxBacklog(ctx context.Context) (int64, time.Duration, error) {
	n, age, err := s.backlog(ctx, "outbox", OutboxPending)
	if err != nil {
		return 0, 0, fmt.Errorf("read outbox backlog: %w", err)
	}
	return n, age, nil
}

// backlog counts a queue's pending rows (the Genesys outbox, the bot
// deliveries) and the age of the oldest. One statement reads both, so that
// another instance sending the last one between a count and a second read
// cannot turn "none left" into an error (which failed whole /metrics scrapes).
func (s *Store) backlog(ctx context.Context, table, pending string) (int64, time.Duration, error) {
	var rows []struct {
		CreatedAt time.Time
		Pending   int64
	}
	err := s.db.WithContext(ctx).Table(table).
		Select("created_at, (SELECT count(*) FROM "+table+" WHERE status = ?) AS pending", pending).
		Where("status = ?", pending).Order("id").Limit(1).Scan(&rows).Error
	if err != nil {
		return 0, 0, err
	}
	if len(rows) == 0 {
		return 0, 0, nil
	}
	return rows[0].Pending, s.now().Sub(rows[0].CreatedAt), nil
}

// OutboxOf lists a conversation's calls, oldest first.
func (s *Store) OutboxOf(ctx context.Context, conversationID int64) ([]OutboxItem, error) {
	var out []OutboxItem
	if err := s.db.WithContext(ctx).Where("conversation_id = ?", conversationID).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list outbox of conversation %d: %w", conversationID, err)
	}
	return out, nil
}
