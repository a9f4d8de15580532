package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"

	"gorm.io/gorm"
)

// sqliteReaders is how many connections read beside SQLite's one writer. In
// WAL mode readers never wait for the writer (docs/performance.md), so a
// page or a webhook's endpoint lookup does not queue behind a commit.
const sqliteReaders = 4

// maxCachedStatements bounds the prepared statements kept per database
// handle: queries with an IN list vary in length and are not worth keeping.
const maxCachedStatements = 512

// sqlitePool sends plain SELECTs made outside a transaction to a pool of
// read connections, and everything else (writes, transactions, PRAGMAs) to
// the single writer connection. A read on a reader sees every transaction
// the writer committed before it began.
//
// It also keeps each statement prepared: SQLite compiles a statement for
// every query otherwise, which was a sixth of Handover's CPU under load
// (docs/performance.md).
type sqlitePool struct {
	write, read *sql.DB
	checkpoints *checkpointer // counts the writer's commits (checkpoint.go)

	mu    sync.Mutex
	stmts map[*sql.DB]map[string]*sql.Stmt
}

func newSQLitePool(write, read *sql.DB, checkpoints *checkpointer) *sqlitePool {
	return &sqlitePool{write: write, read: read, checkpoints: checkpoints, stmts: map[*sql.DB]map[string]*sql.Stmt{write: {}, read: {}}}
}

func (p *sqlitePool) pick(query string) *sql.DB {
	q := strings.TrimLeft(query, " \t\r\n(")
	if len(q) >= 6 && strings.EqualFold(q[:6], "select") {
		return p.read
	}
	return p.write
}

// cached is query as prepared on db, if it is.
func (p *sqlitePool) cached(db *sql.DB, query string) *sql.Stmt {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stmts[db][query]
}

// stmt is query prepared on db, or nil when too many are kept already. It
// holds no lock while preparing: that waits for a free connection, which a
// transaction on the writer may hold while it looks up its own statements.
func (p *sqlitePool) stmt(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	p.mu.Lock()
	st, ok := p.stmts[db][query]
	full := len(p.stmts[db]) >= maxCachedStatements
	p.mu.Unlock()
	if ok || full {
		return st, nil
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if kept, ok := p.stmts[db][query]; ok {
		st.Close()
		return kept, nil
	}
	p.stmts[db][query] = st
	return st, nil
}

func (p *sqlitePool) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return p.pick(query).PrepareContext(ctx, query)
}

func (p *sqlitePool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	p.checkpoints.committed()
	st, err := p.stmt(ctx, p.write, query)
	if err != nil || st == nil {
		return p.write.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

func (p *sqlitePool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	db := p.pick(query)
	if db == p.write {
		p.checkpoints.committed()
	}
	st, err := p.stmt(ctx, db, query)
	if err != nil || st == nil {
		return db.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (p *sqlitePool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	db := p.pick(query)
	if db == p.write {
		p.checkpoints.committed()
	}
	st, err := p.stmt(ctx, db, query)
	if err != nil || st == nil {
		return db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// BeginTx makes gorm's transactions on the writer: with _txlock=immediate
// they take the write lock up front.
func (p *sqlitePool) BeginTx(ctx context.Context, opts *sql.TxOptions) (gorm.ConnPool, error) {
	tx, err := p.write.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &sqliteTx{tx: tx, pool: p}, nil
}

// GetDBConn is the writer, for gorm's DB(): pings and the pool's settings.
func (p *sqlitePool) GetDBConn() (*sql.DB, error) { return p.write, nil }

func (p *sqlitePool) Close() error {
	p.mu.Lock()
	for _, stmts := range p.stmts {
		for _, st := range stmts {
			st.Close()
		}
	}
	p.stmts = map[*sql.DB]map[string]*sql.Stmt{p.write: {}, p.read: {}}
	p.mu.Unlock()
	// The checkpointer first: the writer, the last connection to close,
	// then checkpoints what is left and removes the log.
	return errors.Join(p.checkpoints.close(), p.read.Close(), p.write.Close())
}

// sqliteTx is a transaction on the writer that uses the writer's prepared
// statements. A statement not prepared yet runs as it is, and is prepared
// once the transaction has given the connection back.
type sqliteTx struct {
	tx      *sql.Tx
	pool    *sqlitePool
	pending []string
}

func (t *sqliteTx) prepared(ctx context.Context, query string) *sql.Stmt {
	if st := t.pool.cached(t.pool.write, query); st != nil {
		return t.tx.StmtContext(ctx, st)
	}
	t.pending = append(t.pending, query)
	return nil
}

func (t *sqliteTx) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return t.tx.PrepareContext(ctx, query)
}

func (t *sqliteTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.prepared(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

func (t *sqliteTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.prepared(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

func (t *sqliteTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.prepared(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

func (t *sqliteTx) Commit() error {
	err := t.tx.Commit()
	t.pool.checkpoints.committed()
	t.preparePending()
	return err
}

func (t *sqliteTx) Rollback() error {
	err := t.tx.Rollback()
	t.preparePending()
	return err
}

// preparePending prepares, on the writer now free, the statements the
// transaction ran unprepared, for the next transaction that runs them.
func (t *sqliteTx) preparePending() {
	for _, query := range t.pending {
		t.pool.stmt(context.Background(), t.pool.write, query)
	}
	t.pending = nil
}

// GetDBConn is the writer, for gorm's DB().
func (t *sqliteTx) GetDBConn() (*sql.DB, error) { return t.pool.write, nil }
