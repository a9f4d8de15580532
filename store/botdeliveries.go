package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/handover-relay/handover/live"
	"github.com/handover-relay/handover/secret"
)

// Bot delivery statuses.
const (
	BotDeliveryPending   = "pending"
	BotDeliveryDelivered = "delivered"
	BotDeliveryFailed    = "failed"
)

// BotDelivery is one event for an endpoint's bot webhook: waiting, delivered
// or given up on, with what its last attempt got back (README "Event
// webhooks to the bot").
type BotDelivery struct {
	ID             int64
	EndpointID     int64
	ConversationID *int64 // nil for a test event
	SessionID      string
	// MessageID is the timeline entry the event tells of; its body is made
	// from that entry when sent. Nil for typing and test events, whose Data
	// is their event data.
	MessageID *int64
	// EventID is the event's id in its body and its webhook-id header: the
	// same on every attempt and replay, so the bot can drop a duplicate.
	EventID       string
	EventType     string
	Data          string // JSON event data of an event without a timeline entry
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	LeaseOwner    string
	LeaseUntil    *time.Time
	// What the last attempt met: the URL it went to, the HTTP status (0 when
	// there was no answer), the start of the answer's body, how long it took,
	// and what went wrong.
	URL             string
	ResponseStatus  int
	ResponseExcerpt string
	LatencyMS       int64
	LastError       string
	CreatedAt       time.Time
	AttemptedAt     *time.Time
	DeliveredAt     *time.Time
}

// BotAttempt is the outcome of one attempt at a delivery.
type BotAttempt struct {
	URL             string
	ResponseStatus  int
	ResponseExcerpt string
	Latency         time.Duration
	Error           string // "" when the bot took the event (2xx)
	At              time.Time
	// Replay: an admin's one-off attempt, which fails without changing
	// the delivery's status or flagging the endpoint.
	Replay bool
	// GaveUp: the attempt failed and the retry period is over; the
	// endpoint is flagged until the bot takes an event again.
	GaveUp bool
}

// BotWebhookHealth is how an endpoint's bot webhook fares.
type BotWebhookHealth struct {
	EndpointID     int64 `gorm:"primaryKey;autoIncrement:false"`
	LastSuccessAt  *time.Time
	LastFailureAt  *time.Time
	FailuresInARow int `gorm:"column:failures_in_a_row"`
	LastError      string
	GaveUpAt       *time.Time // an event failed for the whole retry period; cleared by the next success
}

// TableName names the health table.
func (BotWebhookHealth) TableName() string { return "bot_webhook_health" }

// Failing tells whether the endpoint's bot webhook gave up on an event and
// has taken none since: the dashboard flags it.
func (h BotWebhookHealth) Failing() bool { return h.GaveUpAt != nil }

// SessionEventType is the event a timeline entry is on the session's
// stream, and so for the bot webhook (live.EventMessage, …); "" when the bot
// does not hear of it. It says in Go what SessionEventsAfter's query says in
// SQL (a test holds the two together): the bot hears everything but its own
// side, what the endpoint keeps from the user, and receipts other than a
// failure.
func SessionEventType(m *Message) string {
	switch {
	case m.Direction == FromUser, m.Kind == KindTranscript, m.Kind == KindFlowHidden:
		return ""
	case m.Kind == KindReceipt:
		if m.Delivery != DeliveryFailed {
			return ""
		}
		return live.EventReceipt
	case m.Kind == KindState:
		return live.EventState
	case m.Kind == KindQueue:
		return live.EventQueue
	}
	return live.EventMessage
}

// queueBotDelivery adds the bot webhook's delivery of a timeline entry that
// was just inserted in tx, when the entry is a session event and its
// endpoint has a bot webhook: one statement either way, in the entry's own
// transaction, so an event is queued exactly when it is committed.
func queueBotDelivery(ctx context.Context, tx *gorm.DB, m *Message) error {
	eventType := SessionEventType(m)
	if eventType == "" {
		return nil
	}
	return execSQL(ctx, tx, `INSERT INTO bot_deliveries (endpoint_id, conversation_id, session_id, message_id, event_id, event_type, status, next_attempt_at, created_at)
		SELECT id, ?, ?, ?, ?, ?, ?, ?, ? FROM endpoints WHERE id = ? AND bot_webhook_url <> ''`,
		m.ConversationID, m.SessionID, m.ID, newEventID(), eventType, BotDeliveryPending, m.CreatedAt, m.CreatedAt, m.EndpointID)
}

// newEventID names an event for its body and webhook-id header.
func newEventID() string { return "evt_" + secret.NewToken(16) }

// QueueBotEvent queues an event without a timeline entry (typing) for the
// conversation's bot webhook, when the endpoint has one.
func (s *Store) QueueBotEvent(ctx context.Context, conv Conversation, eventType string, data any) error {
	body, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("queue %s event: %w", eventType, err)
	}
	now := s.now()
	err = s.db.WithContext(ctx).Exec(`INSERT INTO bot_deliveries (endpoint_id, conversation_id, session_id, event_id, event_type, data, status, next_attempt_at, created_at)
		SELECT id, ?, ?, ?, ?, ?, ?, ?, ? FROM endpoints WHERE id = ? AND bot_webhook_url <> ''`,
		conv.ID, conv.SessionID, newEventID(), eventType, string(body), BotDeliveryPending, now, now, conv.EndpointID).Error
	if err != nil {
		return fmt.Errorf("queue %s event: %w", eventType, err)
	}
	return nil
}

// NewBotTestEvent is a test event not yet sent: its id and time, for the body.
func (s *Store) NewBotTestEvent(endpointID int64) BotDelivery {
	now := s.now()
	return BotDelivery{EndpointID: endpointID, EventID: newEventID(), EventType: live.EventTest, CreatedAt: now, NextAttemptAt: now}
}

// SaveBotTestEvent records a test event made with NewBotTestEvent, with the
// data it carried and the outcome of its one attempt.
func (s *Store) SaveBotTestEvent(ctx context.Context, d *BotDelivery, data any, a BotAttempt) error {
	body, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("record test event: %w", err)
	}
	d.Data = string(body)
	d.apply(a, BotDeliveryFailed)
	err = s.InTx(ctx, func(tx *Store) error {
		if err := tx.db.WithContext(ctx).Create(d).Error; err != nil {
			return err
		}
		return tx.recordBotHealth(ctx, d.EndpointID, a, false)
	})
	if err != nil {
		return fmt.Errorf("record test event: %w", err)
	}
	return nil
}

// apply records an attempt on d: delivered when it succeeded, else the
// status given.
func (d *BotDelivery) apply(a BotAttempt, otherwise string) {
	at := a.At
	d.Attempts++
	d.URL, d.ResponseStatus, d.ResponseExcerpt, d.LatencyMS, d.LastError, d.AttemptedAt = a.URL, a.ResponseStatus, a.ResponseExcerpt, a.Latency.Milliseconds(), a.Error, &at
	d.LeaseUntil, d.LeaseOwner = nil, ""
	if a.Error == "" {
		d.Status, d.DeliveredAt = BotDeliveryDelivered, &at
		return
	}
	d.Status = otherwise
}

// ClaimDueBotDeliveries leases up to limit due deliveries: of each session
// only the oldest pending one, so that a bot hears a session's events in
// their order. A lease that ran out (its holder died) can be claimed again.
func (s *Store) ClaimDueBotDeliveries(ctx context.Context, owner string, lease time.Duration, limit int) ([]BotDelivery, error) {
	claimed, err := claimDue(ctx, s, leasedQueue[BotDelivery]{table: "bot_deliveries", due: botDeliveryDueSQL, columns: botDeliveryColumns,
		scan: scanBotDelivery, id: func(d *BotDelivery) int64 { return d.ID }}, owner, lease, limit)
	if err != nil {
		return nil, fmt.Errorf("claim bot deliveries: %w", err)
	}
	return claimed, nil
}

// botDeliveryDueSQL selects, over the bot deliveries as "q", those that are
// due and first of their session. Its two arguments are the time now. The
// status is written in (BotDeliveryPending), as the indexes of pending
// deliveries write it, so that the planner can use them.
const botDeliveryDueSQL = `q.status = 'pending' AND q.next_attempt_at <= ? AND (q.lease_until IS NULL OR q.lease_until < ?)
	AND NOT EXISTS (SELECT 1 FROM bot_deliveries p WHERE p.endpoint_id = q.endpoint_id AND p.session_id = q.session_id AND p.status = 'pending'
		AND p.id < q.id)`

// botDeliveryColumns and scanBotDelivery read a bot delivery without gorm's
// reflection (rawsql.go), for the claim. TestAClaimedCallKeepsEveryField
// guards the list against the struct.
const botDeliveryColumns = `id, endpoint_id, conversation_id, session_id, message_id, event_id, event_type, data, status, attempts,
	next_attempt_at, lease_owner, lease_until, url, response_status, response_excerpt, latency_ms, last_error, created_at, attempted_at,
	delivered_at`

func scanBotDelivery(rows *sql.Rows) (BotDelivery, error) {
	var d BotDelivery
	err := rows.Scan(&d.ID, &d.EndpointID, &d.ConversationID, &d.SessionID, &d.MessageID, &d.EventID, &d.EventType, &d.Data, &d.Status,
		&d.Attempts, &d.NextAttemptAt, &d.LeaseOwner, &d.LeaseUntil, &d.URL, &d.ResponseStatus, &d.ResponseExcerpt, &d.LatencyMS, &d.LastError,
		&d.CreatedAt, &d.AttemptedAt, &d.DeliveredAt)
	return d, err
}

// ErrLeaseLost: a delivery's lease passed to another instance (this one was
// taken for dead) before its outcome was recorded; the other's counts.
var ErrLeaseLost = errors.New("the lease of the bot delivery was lost")

// RecordBotAttempt records an attempt at a delivery: delivered when it
// succeeded; else pending again at next, or failed when next is nil (and
// flagged on the endpoint when a.GaveUp). The endpoint's health moves with
// it, in the same transaction. An attempt at a claimed delivery is recorded
// only while this instance still holds its lease (ErrLeaseLost otherwise),
// so that a late outcome never overwrites a newer one, such as another
// instance's 2xx; a replay is recorded whatever the row's state.
func (s *Store) RecordBotAttempt(ctx context.Context, d BotDelivery, a BotAttempt, next *time.Time) error {
	updates := map[string]any{"attempts": gorm.Expr("attempts + 1"), "url": a.URL, "response_status": a.ResponseStatus,
		"response_excerpt": a.ResponseExcerpt, "latency_ms": a.Latency.Milliseconds(), "last_error": a.Error, "attempted_at": a.At,
		"lease_owner": "", "lease_until": nil}
	switch {
	case a.Error == "":
		updates["status"], updates["delivered_at"] = BotDeliveryDelivered, a.At
	case a.Replay:
	case next != nil:
		updates["status"], updates["next_attempt_at"] = BotDeliveryPending, *next
	default:
		updates["status"] = BotDeliveryFailed
	}
	err := s.InTx(ctx, func(tx *Store) error {
		q := tx.db.WithContext(ctx).Model(&BotDelivery{}).Where("id = ?", d.ID)
		if !a.Replay {
			q = q.Where("status = ? AND lease_owner = ?", BotDeliveryPending, d.LeaseOwner)
		}
		res := q.Updates(updates)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrLeaseLost
		}
		return tx.recordBotHealth(ctx, d.EndpointID, a, a.GaveUp && a.Error != "")
	})
	if err != nil {
		return fmt.Errorf("record attempt at bot delivery %d: %w", d.ID, err)
	}
	return nil
}

// recordBotHealth moves an endpoint's bot webhook health by one attempt.
func (s *Store) recordBotHealth(ctx context.Context, endpointID int64, a BotAttempt, gaveUp bool) error {
	db := s.db.WithContext(ctx)
	if a.Error == "" {
		return db.Exec(`INSERT INTO bot_webhook_health (endpoint_id, last_success_at, failures_in_a_row) VALUES (?, ?, 0)
			ON CONFLICT (endpoint_id) DO UPDATE SET last_success_at = excluded.last_success_at, failures_in_a_row = 0, gave_up_at = NULL`,
			endpointID, a.At).Error
	}
	var gaveUpAt *time.Time
	if gaveUp {
		gaveUpAt = &a.At
	}
	return db.Exec(`INSERT INTO bot_webhook_health (endpoint_id, last_failure_at, last_error, failures_in_a_row, gave_up_at) VALUES (?, ?, ?, 1, ?)
		ON CONFLICT (endpoint_id) DO UPDATE SET last_failure_at = excluded.last_failure_at, last_error = excluded.last_error,
			failures_in_a_row = bot_webhook_health.failures_in_a_row + 1, gave_up_at = COALESCE(excluded.gave_up_at, bot_webhook_health.gave_up_at)`,
		endpointID, a.At, a.Error, gaveUpAt).Error
}

// DropBotDelivery gives up on a delivery that was never tried because there
// is nowhere to send it (the endpoint's URL was removed): failed with the
// reason, without counting an attempt or saying anything of the health of a
// webhook that no longer exists.
func (s *Store) DropBotDelivery(ctx context.Context, d BotDelivery, reason string) error {
	id := d.ID
	err := s.db.WithContext(ctx).Model(&BotDelivery{}).Where("id = ? AND status = ? AND lease_owner = ?", id, BotDeliveryPending, d.LeaseOwner).
		Updates(map[string]any{"status": BotDeliveryFailed, "last_error": reason, "lease_owner": "", "lease_until": nil}).Error
	if err != nil {
		return fmt.Errorf("drop bot delivery %d: %w", id, err)
	}
	return nil
}

// PostponeBotDelivery gives a claimed delivery back untried, due at next.
func (s *Store) PostponeBotDelivery(ctx context.Context, d BotDelivery, next time.Time) error {
	id := d.ID
	err := s.db.WithContext(ctx).Model(&BotDelivery{}).Where("id = ? AND status = ? AND lease_owner = ?", id, BotDeliveryPending, d.LeaseOwner).
		Updates(map[string]any{"next_attempt_at": next, "lease_owner": "", "lease_until": nil}).Error
	if err != nil {
		return fmt.Errorf("postpone bot delivery %d: %w", id, err)
	}
	return nil
}

// ReleaseBotDeliveryLeases frees every lease: for a single instance at
// start, as ReleaseOutboxLeases.
func (s *Store) ReleaseBotDeliveryLeases(ctx context.Context) error {
	return s.releaseLeases(ctx, &BotDelivery{}, BotDeliveryPending, nil)
}

// ReleaseBotDeliveryLeasesOf frees the leases owner holds, for a graceful
// stop, as ReleaseOutboxLeasesOf.
func (s *Store) ReleaseBotDeliveryLeasesOf(ctx context.Context, owner string) error {
	return s.releaseLeases(ctx, &BotDelivery{}, BotDeliveryPending, &owner)
}

// NextBotDeliveryAttempt is when the earliest pending delivery becomes due.
func (s *Store) NextBotDeliveryAttempt(ctx context.Context) (time.Time, bool, error) {
	var d BotDelivery
	err := s.db.WithContext(ctx).Select("next_attempt_at").Where("status = ?", BotDeliveryPending).Order("next_attempt_at").Take(&d).Error
	if err == gorm.ErrRecordNotFound {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("find next bot delivery attempt: %w", err)
	}
	return d.NextAttemptAt, true, nil
}

// RetryBotDeliveryNow makes a pending delivery due at once (a replay of one
// still waiting for its next attempt). False when it is not pending.
func (s *Store) RetryBotDeliveryNow(ctx context.Context, id int64) (bool, error) {
	res := s.db.WithContext(ctx).Model(&BotDelivery{}).Where("id = ? AND status = ?", id, BotDeliveryPending).Update("next_attempt_at", s.now())
	if res.Error != nil {
		return false, fmt.Errorf("retry bot delivery %d: %w", id, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// BotDeliveryByID returns one delivery.
func (s *Store) BotDeliveryByID(ctx context.Context, id int64) (BotDelivery, error) {
	var d BotDelivery
	if err := s.db.WithContext(ctx).Take(&d, id).Error; err != nil {
		return BotDelivery{}, fmt.Errorf("find bot delivery %d: %w", id, translate(err))
	}
	return d, nil
}

// BotDeliveryFilter selects bot deliveries for a list.
type BotDeliveryFilter struct {
	EndpointID int64  // 0 for every endpoint
	Status     string // pending, delivered, failed; "" for all
	EventType  string // "" for all
	Created    TimeRange
	Before     int64
	Limit      int
}

// ListBotDeliveries returns a page of deliveries, newest first.
func (s *Store) ListBotDeliveries(ctx context.Context, f BotDeliveryFilter) (Page[BotDelivery], error) {
	q := s.db.WithContext(ctx).Model(&BotDelivery{})
	if f.EndpointID != 0 {
		q = q.Where("endpoint_id = ?", f.EndpointID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.EventType != "" {
		q = q.Where("event_type = ?", f.EventType)
	}
	q = f.Created.apply(q, "created_at")
	p, err := keysetPage(q, f.Before, f.Limit, func(d BotDelivery) int64 { return d.ID })
	if err != nil {
		return Page[BotDelivery]{}, fmt.Errorf("list bot deliveries: %w", err)
	}
	return p, nil
}

// BotDeliveriesOf lists a conversation's deliveries, oldest first.
func (s *Store) BotDeliveriesOf(ctx context.Context, conversationID int64) ([]BotDelivery, error) {
	var out []BotDelivery
	if err := s.db.WithContext(ctx).Where("conversation_id = ?", conversationID).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list bot deliveries of conversation %d: %w", conversationID, err)
	}
	return out, nil
}

// BotWebhookHealthOf returns an endpoint's bot webhook health (zero when it
// never sent).
func (s *Store) BotWebhookHealthOf(ctx context.Context, endpointID int64) (BotWebhookHealth, error) {
	var hs []BotWebhookHealth
	if err := s.db.WithContext(ctx).Where("endpoint_id = ?", endpointID).Limit(1).Find(&hs).Error; err != nil {
		return BotWebhookHealth{}, fmt.Errorf("read bot webhook health of endpoint %d: %w", endpointID, err)
	}
	if len(hs) == 0 {
		return BotWebhookHealth{EndpointID: endpointID}, nil
	}
	return hs[0], nil
}

// FailingBotWebhooks lists the health of every endpoint whose bot webhook
// gave up on an event and has taken none since.
func (s *Store) FailingBotWebhooks(ctx context.Context) ([]BotWebhookHealth, error) {
	var out []BotWebhookHealth
	if err := s.db.WithContext(ctx).Where("gave_up_at IS NOT NULL").Order("endpoint_id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list failing bot webhooks: %w", err)
	}
	return out, nil
}

// PruneBotDeliveries deletes the deliveries made before before that are
// done with (delivered or given up on), in batches: the log keeps them as
// long as the webhook log keeps its rows. Waiting ones stay.
func (s *Store) PruneBotDeliveries(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.pruneBefore(ctx, "bot_deliveries", "created_at", before, "status <> '"+BotDeliveryPending+"'")
	if err != nil {
		return n, fmt.Errorf("prune bot deliveries: %w", err)
	}
	return n, nil
}

// BotDeliveryBacklog counts the events waiting for bot webhooks, and the age
// of the oldest.
func (s *Store) BotDeliveryBacklog(ctx context.Context) (int64, time.Duration, error) {
	n, age, err := s.backlog(ctx, "bot_deliveries", BotDeliveryPending)
	if err != nil {
		return 0, 0, fmt.Errorf("read bot delivery backlog: %w", err)
	}
	return n, age, nil
}
