package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"log/slog"
	"sync"

	"github.com/mattn/go-sqlite3"
)

// checkpointEvery is how many commits of the writer go by between two
// checkpoints. A checkpoint copies each page once, however many of the
// commits since changed it.
const checkpointEvery = 64

// The writer commits without checkpointing (PRAGMA wal_autocheckpoint = 0),
// and a connection of its own copies the write-ahead log into the database
// file beside it. SQLite's automatic checkpoint runs inside the commit that
// crosses its threshold: the committer, which every write waits for, copied
// the pages and waited for the disk's sync (docs/performance.md). A passive
// checkpoint runs beside the writer and the readers and blocks neither.
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
	default: // a checkpoint is due or running: it takes this commit's pages too
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
			c.checkpointed <- copied
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

// writerWithoutAutoCheckpoint opens SQLite's writer connections with the
// automatic checkpoint off (see checkpointer).
func writerWithoutAutoCheckpoint(dsn string) *sql.DB {
	return sql.OpenDB(dsnConnector{dsn: dsn, driver: &sqlite3.SQLiteDriver{ConnectHook: func(conn *sqlite3.SQLiteConn) error {
		_, err := conn.Exec("PRAGMA wal_autocheckpoint = 0", nil)
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
