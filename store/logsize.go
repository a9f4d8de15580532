package store

import (
	"context"
	"fmt"
	"time"
)

// The webhook log and the Genesys call log are bounded in size together
// (HANDOVER_LOG_MAX_BYTES). Their size is an estimate, cheap to compute from
// the rows: the bytes of each row's variable-length texts plus a fixed
// overhead per row for its other columns, its index entries and the
// database's own bookkeeping.
//
//	webhook row:    body + headers + verdict_detail + dedupe_key + WebhookRowOverhead
//	Genesys call:   method + path + error + APICallRowOverhead
//
// It is not the size of the database file: SQLite reuses freed pages rather
// than giving them back, and PostgreSQL keeps dead rows until VACUUM.
const (
	// WebhookRowOverhead covers a webhook row's ids, times, short texts
	// (integration and message ids, verdict, outcome) and its entries in the
	// table's eight indexes.
	WebhookRowOverhead = 512
	// APICallRowOverhead covers a Genesys call row's numbers, time and its
	// entries in the table's four indexes.
	APICallRowOverhead = 256
)

// The estimated size of one row, in SQL.
var (
	webhookSize = fmt.Sprintf("(octet_length(body) + octet_length(headers) + octet_length(verdict_detail) + coalesce(octet_length(dedupe_key), 0) + %d)", WebhookRowOverhead)
	apiCallSize = fmt.Sprintf("(octet_length(method) + octet_length(path) + octet_length(error) + %d)", APICallRowOverhead)
)

// LogBytes is the estimated size of the webhook and Genesys call logs together.
func (s *Store) LogBytes(ctx context.Context) (int64, error) {
	var total int64
	err := s.db.WithContext(ctx).Raw("SELECT (SELECT coalesce(sum(" + webhookSize + "), 0) FROM webhooks) + (SELECT coalesce(sum(" + apiCallSize + "), 0) FROM api_calls)").
		Scan(&total).Error
	if err != nil {
		return 0, fmt.Errorf("estimate the size of the logs: %w", err)
	}
	return total, nil
}

// LogPrune is what PruneLogsToSize did.
type LogPrune struct {
	Webhooks, APICalls int64 // rows deleted
	Bytes              int64 // the estimated size of both logs afterwards
}

// logRow is one row a size prune may delete.
type logRow struct {
	ID   int64
	At   time.Time
	Size int64
}

// PruneLogsToSize deletes webhook and Genesys call rows, the oldest first
// across both logs, until their estimated size (see LogBytes) is at most
// maxBytes. It never deletes a webhook not yet processed, nor one received
// at or after keepKeyedSince that carries a dedupe key (those stop replays):
// when only such rows are left, the logs stay over maxBytes.
func (s *Store) PruneLogsToSize(ctx context.Context, maxBytes int64, keepKeyedSince time.Time) (LogPrune, error) {
	total, err := s.LogBytes(ctx)
	if err != nil {
		return LogPrune{}, err
	}
	res := LogPrune{Bytes: total}
	for res.Bytes > maxBytes {
		var hooks, calls []logRow
		err := s.db.WithContext(ctx).Raw("SELECT id, received_at AS at, "+webhookSize+" AS size FROM webhooks"+
			" WHERE processed_at IS NOT NULL AND (dedupe_key IS NULL OR received_at < ?) ORDER BY received_at, id LIMIT ?", keepKeyedSince.UTC(), pruneBatch).
			Scan(&hooks).Error
		if err != nil {
			return res, fmt.Errorf("list the oldest webhooks: %w", err)
		}
		err = s.db.WithContext(ctx).Raw("SELECT id, created_at AS at, "+apiCallSize+" AS size FROM api_calls ORDER BY created_at, id LIMIT ?", pruneBatch).
			Scan(&calls).Error
		if err != nil {
			return res, fmt.Errorf("list the oldest Genesys calls: %w", err)
		}
		hookIDs, callIDs, freed := oldestUntil(hooks, calls, res.Bytes-maxBytes)
		if len(hookIDs)+len(callIDs) == 0 {
			return res, nil
		}
		if len(hookIDs) > 0 {
			r := s.db.WithContext(ctx).Exec("DELETE FROM webhooks WHERE id IN ?", hookIDs)
			if r.Error != nil {
				return res, fmt.Errorf("prune webhooks to size: %w", r.Error)
			}
			res.Webhooks += r.RowsAffected
		}
		if len(callIDs) > 0 {
			r := s.db.WithContext(ctx).Exec("DELETE FROM api_calls WHERE id IN ?", callIDs)
			if r.Error != nil {
				return res, fmt.Errorf("prune Genesys calls to size: %w", r.Error)
			}
			res.APICalls += r.RowsAffected
		}
		res.Bytes -= freed
	}
	return res, nil
}

// oldestUntil picks rows from two lists, each the oldest of its log in
// order, oldest first across both, until they add up to excess bytes. A
// list of pruneBatch rows may go on beyond what was listed, so the merge
// stops where such a list runs out: the rows after it might be older than
// the other list's next.
func oldestUntil(hooks, calls []logRow, excess int64) (hookIDs, callIDs []int64, freed int64) {
	i, j := 0, 0
	for freed < excess {
		hookNext := i < len(hooks) && (j < len(calls) && !calls[j].At.Before(hooks[i].At) || j == len(calls) && len(calls) < pruneBatch)
		callNext := !hookNext && j < len(calls) && (i < len(hooks) || len(hooks) < pruneBatch)
		switch {
		case hookNext:
			hookIDs, freed = append(hookIDs, hooks[i].ID), freed+hooks[i].Size
			i++
		case callNext:
			callIDs, freed = append(callIDs, calls[j].ID), freed+calls[j].Size
			j++
		default:
			return hookIDs, callIDs, freed
		}
	}
	return hookIDs, callIDs, freed
}
