package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/handover-relay/handover/live"
	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/store"
)

// ErrErasurePending: a conversation of the person is still being ended in
// Genesys (its disconnect is queued and retried), so nothing was erased yet.
var ErrErasurePending = errors.New("erasure waits for Genesys")

// erasureWait bounds how long an erasure waits for Genesys to take the end
// of the person's open conversations before it answers ErrErasurePending.
const erasureWait = 20 * time.Second

// Erasure is one person's data erased, as docs/privacy.md describes it.
type Erasure struct {
	UserID     string
	EndpointID int64  // 0 for every endpoint
	By         string // who asked: an admin's name or an API key's, for the audit record
}

// EraseContact erases everything stored about one bot user id (GDPR article
// 17): a conversation still in handover is ended first, in Genesys too, as
// the bot's end route does; once Genesys has taken every call queued for
// them, the person's conversations go with their timelines, outbox items
// and webhook and call log rows, the SQLite write-ahead log is truncated so
// no copy of an erased page stays in it, and an audit record keeps who,
// when, a hash of the user id and the counts. Erasing nobody deletes
// nothing and still leaves an audit record.
func (r *Relay) EraseContact(ctx context.Context, e Erasure) (store.Deleted, error) {
	if err := checkID("userId", "missing_user_id", e.UserID); err != nil {
		return store.Deleted{}, err
	}
	convs, err := r.store.ConversationsOfUser(ctx, e.UserID, e.EndpointID)
	if err != nil {
		return store.Deleted{}, err
	}
	ids := make([]int64, 0, len(convs))
	for _, conv := range convs {
		ids = append(ids, conv.ID)
		if !conv.Open() {
			continue
		}
		if _, err := r.endAsUserLeft(ctx, conv); err != nil {
			return store.Deleted{}, err
		}
	}
	if err := r.awaitOutbox(ctx, ids); err != nil {
		return store.Deleted{}, err
	}
	deleted, err := r.store.DeleteConversations(ctx, convs)
	if err != nil {
		return store.Deleted{}, err
	}
	if err := r.store.ReclaimErased(ctx); err != nil {
		// The rows are gone; only older copies may stay in the WAL until the
		// next checkpoint. Say so, but the erasure itself happened.
		r.log.ErrorContext(ctx, "erasure: truncate the write-ahead log", slog.Any("error", err))
	}
	audit := store.Erasure{ErasedBy: e.By, UserIDHash: secret.HashToken(e.UserID), Counts: deleted}
	if e.EndpointID != 0 {
		audit.EndpointID = &e.EndpointID
	}
	if err := r.store.InsertErasure(ctx, &audit); err != nil {
		return deleted, err
	}
	r.log.InfoContext(ctx, "erased a person's data", slog.String("by", e.By), slog.String("user_id_hash", audit.UserIDHash),
		slog.Int64("conversations", deleted.Conversations), slog.Int64("messages", deleted.Messages))
	r.publishDeleted(convs, deleted)
	return deleted, nil
}

// awaitOutbox waits until no call to Genesys is pending for the
// conversations, re-checking whenever one of them changes and at least every
// outboxPollEvery; after erasureWait it gives up with ErrErasurePending,
// leaving the calls queued (they go on being retried) and nothing erased.
func (r *Relay) awaitOutbox(ctx context.Context, ids []int64) error {
	topics := make([]live.Topic, len(ids))
	for i, id := range ids {
		topics[i] = live.Conversation(id)
	}
	changed, unsubscribe := r.broker.SubscribeAll(topics...)
	defer unsubscribe()
	tick := time.NewTicker(outboxPollEvery)
	defer tick.Stop()
	deadline := time.NewTimer(erasureWait)
	defer deadline.Stop()
	for {
		pending, err := r.store.PendingOutboxOf(ctx, ids)
		if err != nil || pending == 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return refuse(ErrErasurePending, "erasure_pending",
				"%d call(s) to Genesys for this person's conversations are still queued (ending the conversation there comes first); nothing was erased. They are retried on their own; erase again once they are through.", pending)
		case <-changed:
		case <-tick.C:
		}
	}
}

// outboxPollEvery is how often awaitOutbox looks again without a signal: the
// outbox marks an item sent after its conversation's last change signal.
const outboxPollEvery = 100 * time.Millisecond

// PruneConversations deletes, for every endpoint with a retention, the
// conversations that ended more than its ConversationRetentionDays ago, with
// everything that belongs to them (docs/privacy.md). Open conversations are
// never deleted, however old.
func (r *Relay) PruneConversations(ctx context.Context) (store.Deleted, error) {
	endpoints, err := r.store.ListEndpoints(ctx)
	if err != nil {
		return store.Deleted{}, err
	}
	var total store.Deleted
	for _, e := range endpoints {
		days := e.Privacy.ConversationRetentionDays
		if days <= 0 {
			continue
		}
		before := r.store.Now().AddDate(0, 0, -days)
		for {
			convs, err := r.store.EndedConversationsBefore(ctx, e.ID, before, retentionBatch)
			if err != nil {
				return total, err
			}
			deleted, err := r.store.DeleteConversations(ctx, convs)
			if err != nil {
				return total, fmt.Errorf("retention of endpoint %d: %w", e.ID, err)
			}
			total = total.Add(deleted)
			r.publishDeleted(convs, deleted)
			if len(convs) < retentionBatch {
				break
			}
		}
	}
	if total.Conversations > 0 {
		r.log.InfoContext(ctx, "deleted conversations past their endpoint's retention", slog.Int64("conversations", total.Conversations),
			slog.Int64("messages", total.Messages), slog.Int64("webhooks", total.Webhooks), slog.Int64("api_calls", total.APICalls))
	}
	return total, nil
}

// retentionBatch bounds one delete of PruneConversations, so the single
// SQLite writer is never held for long.
const retentionBatch = 200

// publishDeleted tells the console's open pages that these conversations
// and their log rows are gone.
func (r *Relay) publishDeleted(convs []store.Conversation, d store.Deleted) {
	if d.Conversations == 0 {
		return
	}
	for _, c := range convs {
		r.publish(c)
	}
	r.broker.Publish(live.Webhooks, live.Signal{Kind: live.Changed})
	r.broker.Publish(live.APICalls, live.Signal{Kind: live.Changed})
}
