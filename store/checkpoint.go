package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"log/slog"
	"strconv"
	"sync"

	"github.com/mattn/go-sqlite3"
)

// checkpointEvery is how many commits of the writer go by between two
// checkpoints. A checkpoint copies each page once, however many of the
// commits since changed it.
const checkpointEvery = 64

// writerCheckpointPages is where the writer checkpoints in its own commit
// after all (PRAGMA wal_autocheckpoint): the backstop that keeps the log's
// size bounded. SQLite starts the log over at its beginning only when a
// write finds every page of it copied, and a checkpoint on another
// connection copies only the pages there were when it began: under steady
// writes the log would grow without end (280 MB after 60,000 commits, in a
// review's measure). The writer's checkpoint, once the log holds this many
// pages, copies the few the checkpointer has not, and the next write starts
// the log over. SQLite's default is 1,000.
const writerCheckpointPages = 4000

// The writer's own checkpoint runs inside the commit that crosses its
// threshold: the committer, which every write waits for, copies the pages
// into the database file and waits for the disk's sync (docs/performance.md).
// So a connection of its own copies the log beside the writer every
// checkpointEvery commits (a passive checkpoint, which waits for neither the
// writer nor the readers), and the writer's checkpoint, rarer
// (writerCheckpointPages), finds little left to copy.
type checkpointer struct {
	db           *sql.DB
	commits      chan struct{}
	stop         chan struct{}
	done         chan struct{}
	log          *slog.Logger
	checkpointed chan<- int // Options.checkpointed
	closing      sync.Once
}

func newCheckpointer(dsn string, log *slog.Logger, checkpointed chan<- int) *checkpointer {
	db := sql.OpenDB(dsnConnector{dsn: dsn, driver: &sqlite3.SQLiteDriver{}})
	db.SetMaxOpenConns(1)
	c := &checkpointer{db: db, commits: make(chan struct{}, checkpointEvery), stop: make(chan struct{}), done: make(chan struct{}),
		log: log, checkpointed: checkpointed}
	go c.run()
	return c
}

// committed counts one commit of the writer (a transaction, or a write
// outside one); it never waits.
func (c *checkpointer) committed() {
	select {
	case c.commits <- struct{}{}:
	default: // a checkpoint is due or running already
	}
}

func (c *checkpointer) run() {
	defer close(c.done)
	for {
		for range checkpointEvery {
			select {
			case <-c.commits:
			case <-c.stop:
				return
			}
		}
		_, copied, err := c.checkpoint(context.Background(), "PASSIVE")
		if err != nil && c.log != nil {
			c.log.Warn("checkpoint the write-ahead log", slog.Any("error", err))
		}
		if c.checkpointed != nil {
			select {
			case c.checkpointed <- copied:
			case <-c.stop:
				return
			}
		}
	}
}

// checkpoint runs a checkpoint of the given mode (PASSIVE, TRUNCATE) and
// says whether it found the log busy and how many of its pages it copied.
func (c *checkpointer) checkpoint(ctx context.Context, mode string) (busy, copied int, err error) {
	var frames int
	err = c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &frames, &copied)
	return busy, copied, err
}

func (c *checkpointer) close() error {
	c.closing.Do(func() { close(c.stop) })
	<-c.done
	return c.db.Close()
}

// writerWithRareCheckpoints opens SQLite's writer connections with their
// automatic checkpoint at writerCheckpointPages (see checkpointer).
func writerWithRareCheckpoints(dsn string) *sql.DB {
	return sql.OpenDB(dsnConnector{dsn: dsn, driver: &sqlite3.SQLiteDriver{ConnectHook: func(conn *sqlite3.SQLiteConn) error {
		_, err := conn.Exec("PRAGMA wal_autocheckpoint = "+strconv.Itoa(writerCheckpointPages), nil)
		return err
	}}})
}

// dsnConnector opens a driver's connections to one data source.
type dsnConnector struct {
	dsn    string
	driver driver.Driver
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.driver.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.driver }
