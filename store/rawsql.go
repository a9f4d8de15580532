package store

import (
	"context"
	"database/sql"
	"errors"

	"gorm.io/gorm"
)

// The relay's hot statements are written out rather than built by gorm
// (docs/performance.md, "what a statement costs"). Their arguments are marked
// "?". On SQLite the text goes to the connection as it is: gorm's builder
// would copy it byte by byte looking for the marks, about ten microseconds a
// statement, as much as SQLite's own work on a read by primary key
// (BenchmarkConversationReads). PostgreSQL numbers its marks, which gorm's
// Raw and Exec do. db is the store's handle, a transaction's, or a batched
// job's; the statement runs on its connection either way.

// queryRows runs a written-out query on db's connection.
func queryRows(ctx context.Context, db *gorm.DB, query string, args ...any) (*sql.Rows, error) {
	if db.Dialector.Name() == "sqlite" {
		return db.Statement.ConnPool.QueryContext(ctx, query, args...)
	}
	return db.WithContext(ctx).Raw(query, args...).Rows()
}

// queryOne runs a written-out query on db's connection and reads its first
// row with scan; ErrNotFound when there is none.
func queryOne[T any](ctx context.Context, db *gorm.DB, scan func(*sql.Rows) (T, error), query string, args ...any) (T, error) {
	var zero T
	rows, err := queryRows(ctx, db, query, args...)
	if err != nil {
		return zero, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return zero, err
		}
		return zero, ErrNotFound
	}
	v, err := scan(rows)
	if err != nil {
		return zero, err
	}
	return v, rows.Close()
}

// queryAll runs a written-out query on db's connection and reads every row
// with scan. On SQLite a statement that writes (UPDATE … RETURNING) runs at
// the first row, so its failure is known only from rows.Err.
func queryAll[T any](ctx context.Context, db *gorm.DB, scan func(*sql.Rows) (T, error), query string, args ...any) ([]T, error) {
	rows, err := queryRows(ctx, db, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var all []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		all = append(all, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return all, rows.Close()
}

// execSQL runs a written-out statement on db's connection.
func execSQL(ctx context.Context, db *gorm.DB, query string, args ...any) error {
	_, err := execCounted(ctx, db, query, args...)
	return err
}

// execCounted is execSQL for a statement whose count of changed rows says
// what it did (a claim, a mark made once).
func execCounted(ctx context.Context, db *gorm.DB, query string, args ...any) (int64, error) {
	if db.Dialector.Name() == "sqlite" {
		res, err := db.Statement.ConnPool.ExecContext(ctx, query, args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	res := db.WithContext(ctx).Exec(query, args...)
	return res.RowsAffected, res.Error
}

// insertRow runs a written-out INSERT … RETURNING id and sets *id; false
// when it inserted nothing (ON CONFLICT DO NOTHING).
func insertRow(ctx context.Context, db *gorm.DB, id *int64, query string, args ...any) (bool, error) {
	rows, err := queryRows(ctx, db, query, args...)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return false, rows.Err()
	}
	if err := rows.Scan(id); err != nil {
		return false, err
	}
	return true, rows.Close()
}

// insertOne is insertRow for a statement that must insert its row.
func insertOne(ctx context.Context, db *gorm.DB, id *int64, query string, args ...any) error {
	inserted, err := insertRow(ctx, db, id, query, args...)
	if err == nil && !inserted {
		err = errors.New("the row was not inserted")
	}
	return err
}
