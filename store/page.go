package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// DefaultPageSize is how many rows a console list shows at once.
const DefaultPageSize = 50

// TimeRange is a half-open interval [From, To); a zero end is open.
type TimeRange struct {
	From time.Time
	To   time.Time
}

func (r TimeRange) apply(q *gorm.DB, column string) *gorm.DB {
	if !r.From.IsZero() {
		q = q.Where(column+" >= ?", r.From.UTC())
	}
	if !r.To.IsZero() {
		q = q.Where(column+" < ?", r.To.UTC())
	}
	return q
}

// Page is one page of a keyset-paginated list: Next is the cursor (the
// "before" id) of the following page, 0 when this page is the last.
type Page[T any] struct {
	Rows []T
	Next int64
}

// keysetPage runs q for limit+1 rows below before, newest first, and cuts the
// result into a page and the cursor of the next one.
func keysetPage[T any](q *gorm.DB, before int64, limit int, id func(T) int64) (Page[T], error) {
	if limit <= 0 {
		limit = DefaultPageSize
	}
	if before > 0 {
		q = q.Where("id < ?", before)
	}
	var rows []T
	if err := q.Order("id DESC").Limit(limit + 1).Find(&rows).Error; err != nil {
		return Page[T]{}, err
	}
	p := Page[T]{Rows: rows}
	if len(rows) > limit {
		p.Rows = rows[:limit]
		p.Next = id(p.Rows[limit-1])
	}
	return p, nil
}

// pruneBatch bounds one delete, so pruning never holds the (single) SQLite
// writer for long and the relay's writes go on between batches.
const pruneBatch = 1000

// pruneBefore deletes table rows whose column is before t (and that match
// the extra condition, when one is given), pruneBatch at a time.
func (s *Store) pruneBefore(ctx context.Context, table, column string, t time.Time, extra ...string) (int64, error) {
	where := column + " < ?"
	for _, cond := range extra {
		where += " AND " + cond
	}
	var total int64
	for {
		res := s.db.WithContext(ctx).Exec("DELETE FROM "+table+" WHERE id IN (SELECT id FROM "+table+" WHERE "+where+" ORDER BY id LIMIT ?)", t.UTC(), pruneBatch)
		if res.Error != nil {
			return total, res.Error
		}
		total += res.RowsAffected
		if res.RowsAffected < pruneBatch {
			return total, nil
		}
	}
}
