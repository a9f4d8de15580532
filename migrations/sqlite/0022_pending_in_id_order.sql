-- The outbox and the bot deliveries are claimed oldest first (ORDER BY id
-- LIMIT n, store.claimDue). With only the primary key in id order, the
-- planner walked every row ever sent to reach the pending ones: a claim cost
-- grew with the history (8 ms with 9,600 sent rows on PostgreSQL,
-- docs/performance.md). These indexes hold only pending rows, in id order, as
-- webhooks_unprocessed does for the webhook log.
CREATE INDEX outbox_pending ON outbox (id) WHERE status = 'pending';
CREATE INDEX bot_deliveries_pending ON bot_deliveries (id) WHERE status = 'pending';
