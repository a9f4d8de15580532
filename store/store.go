// Package store keeps Handover's state in SQLite or PostgreSQL through gorm.
// It knows SQL and nothing of HTTP: callers pass plain values and get models back.
//
// One file per table holds its model, its constants and its queries
// (conversations.go, messages.go, outbox.go, webhooks.go, apicalls.go,
// endpoints.go, …); page.go has the keyset paging and pruning the log tables
// share, fanout.go the PostgreSQL LISTEN/NOTIFY client for live events,
// batch.go SQLite's group commit, sqlitepool.go and checkpoint.go its
// connections, and rawsql.go how the hot statements, written out, are run.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/handover-relay/handover/config"
	"github.com/handover-relay/handover/secret"
)

// ErrNotFound is returned when the asked-for row does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a write would break a uniqueness rule.
var ErrConflict = errors.New("already exists")

// Dialect names the database family, which picks the migration set.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// postgresConns is how many connections an instance holds to PostgreSQL at
// most; several instances share the server's max_connections.
const postgresConns = 20

// Store is the database handle with the key that seals secrets.
type Store struct {
	db      *gorm.DB
	dialect Dialect
	box     *secret.Box
	now     func() time.Time
	inTx    bool // a store given to InTx's function: reads of a conversation lock its row
	sqlite  *sqlitePool

	endpoints        *endpointCache // see endpointcache.go
	endpointWatch    *endpointWatch // PostgreSQL only: see endpointwatch.go
	batch            *groupCommit   // SQLite only: see batch.go
	txWroteEndpoints *bool          // in a transaction: set when it wrote an endpoint
}

// Options tune Open; the zero value is right for production.
type Options struct {
	Logger *slog.Logger     // slow queries and errors; nil for none
	Now    func() time.Time // pinned clock in tests

	checkpointed       chan<- int    // tests: each checkpoint's count of frames copied
	endpointWatchEvent func(string)  // tests: what the endpoint watch did (endpointwatch.go)
	endpointWatchCheck time.Duration // tests: how long it listens before it probes
}

// Open connects to the database named by databaseURL (see config.SQLitePath
// for the SQLite forms, or postgres://…). It does not migrate: call Migrate.
func Open(ctx context.Context, databaseURL string, box *secret.Box, opts Options) (*Store, error) {
	gormConfig := &gorm.Config{
		TranslateError: true,
		Logger:         logger.Discard,
		NowFunc:        func() time.Time { return time.Now().UTC() },
	}
	if opts.Logger != nil {
		const slow = 200 * time.Millisecond
		gormConfig.Logger = slowOrFailedLogger{logger.NewSlogLogger(opts.Logger, logger.Config{
			SlowThreshold:             slow,
			IgnoreRecordNotFoundError: true,
			LogLevel:                  logger.Warn,
		}), slow}
	}
	if opts.Now != nil {
		gormConfig.NowFunc = opts.Now
	}

	var (
		dialector gorm.Dialector
		dialect   Dialect
		pool      *sqlitePool // SQLite's writer and readers
	)
	switch path, isSQLite := config.SQLitePath(databaseURL); {
	case isSQLite:
		if err := prepareSQLiteFile(path, opts.Logger); err != nil {
			return nil, err
		}
		// WAL lets readers run beside the writer; IMMEDIATE transactions take the
		// write lock up front so two writers wait (busy_timeout) instead of failing.
		// secure_delete zeroes what a delete frees, so an erased text leaves no
		// byte in the file (docs/privacy.md).
		sqliteDSN := "file:" + path + "?_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=on&_synchronous=NORMAL&_txlock=immediate&_secure_delete=on"
		write := writerWithRareCheckpoints(sqliteDSN)
		// One writer connection: SQLite has one writer anyway, and a single
		// connection turns lock contention into an orderly queue in database/sql.
		write.SetMaxOpenConns(1)
		// Opening the writer first sets WAL mode in the file, which the
		// readers (query_only) then share.
		if err := write.PingContext(ctx); err != nil {
			write.Close()
			return nil, fmt.Errorf("reach sqlite database: %w", err)
		}
		read, err := sql.Open(sqlite.DriverName, "file:"+path+"?_busy_timeout=10000&_foreign_keys=on&_query_only=true")
		if err != nil {
			write.Close()
			return nil, fmt.Errorf("open sqlite database: %w", err)
		}
		read.SetMaxOpenConns(sqliteReaders)
		read.SetMaxIdleConns(sqliteReaders)
		pool = newSQLitePool(write, read, newCheckpointer(sqliteDSN, opts.Logger, opts.checkpointed))
		dialector, dialect = sqlite.New(sqlite.Config{Conn: pool}), SQLite
	case config.IsPostgres(databaseURL):
		dialector, dialect = postgres.Open(databaseURL), Postgres
	default:
		return nil, fmt.Errorf("database URL %q: use sqlite:path/to/file.db or postgres://user:pass@host/db", databaseURL)
	}

	db, err := gorm.Open(dialector, gormConfig)
	if err != nil {
		if pool != nil {
			pool.Close()
		}
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	if dialect == Postgres {
		// As many kept idle as may be open: a connection returned beyond the
		// idle limit is closed, and under load the next request opens another,
		// a new server process each (1,640 in two minutes of the bench with
		// 10 kept idle, docs/performance.md). Idle ones close after five
		// minutes anyway.
		sqlDB.SetMaxOpenConns(postgresConns)
		sqlDB.SetMaxIdleConns(postgresConns)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		if pool != nil {
			pool.Close() // the readers and the checkpointer too
		} else {
			sqlDB.Close()
		}
		return nil, fmt.Errorf("reach %s database: %w", dialect, err)
	}
	now := gormConfig.NowFunc
	st := &Store{db: db, dialect: dialect, box: box, now: now, sqlite: pool}
	st.endpoints = &endpointCache{entries: map[string][]Endpoint{}, armed: dialect == SQLite}
	if dialect == Postgres {
		st.endpointWatch = newEndpointWatch(databaseURL, st.endpoints, st.probeEndpointTrigger, opts)
	}
	if dialect == SQLite {
		st.batch = newGroupCommit()
		go st.commitBatches()
	}
	return st, nil
}

// prepareSQLiteFile creates the database's directory (0700) and an empty
// database file (0600) before the driver opens it. SQLite gives the -wal and
// -shm files the database file's permissions, so none of the three is
// readable by other users, whatever the umask. A database file that exists
// already is left as the operator made it, with a warning when others may
// read it.
func prepareSQLiteFile(path string, logger *slog.Logger) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create database directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		if err := f.Close(); err != nil {
			return fmt.Errorf("create database file: %w", err)
		}
		// The umask may have taken bits from 0600; SQLite needs both.
		if err := os.Chmod(path, 0o600); err != nil {
			return fmt.Errorf("create database file: %w", err)
		}
		return nil
	case errors.Is(err, fs.ErrExist):
		info, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("open database file: %w", err)
		}
		if mode := info.Mode().Perm(); mode&0o077 != 0 && logger != nil {
			logger.Warn("other users may read the database file and its -wal and -shm files; chmod 600 them",
				slog.String("database", path), slog.String("mode", fmt.Sprintf("%04o", mode)))
		}
		return nil
	default:
		return fmt.Errorf("create database file: %w", err)
	}
}

// Dialect tells which database family the store runs on.
func (s *Store) Dialect() Dialect { return s.dialect }

// Ping checks that the database answers (for /readyz).
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Checkpoint writes SQLite's write-ahead log into the database file and
// empties the log file (PRAGMA wal_checkpoint(TRUNCATE)), so that the files'
// sizes say how much the database holds; nothing on PostgreSQL.
func (s *Store) Checkpoint(ctx context.Context) error {
	if s.dialect != SQLite {
		return nil
	}
	// On the checkpointer's connection: a checkpoint it is running would
	// make this one find the log busy.
	busy, _, err := s.sqlite.checkpoints.checkpoint(ctx, "TRUNCATE")
	if err != nil {
		return fmt.Errorf("checkpoint the write-ahead log: %w", err)
	}
	if busy != 0 {
		return errors.New("checkpoint the write-ahead log: the database was busy")
	}
	return nil
}

// Close releases the database connections.
func (s *Store) Close() error {
	if s.endpointWatch != nil {
		s.endpointWatch.stop()
	}
	if s.batch != nil {
		s.batch.close()
	}
	if s.sqlite != nil {
		return s.sqlite.Close()
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// translate maps gorm's errors onto the store's sentinels.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return ErrConflict
	}
	return err
}
