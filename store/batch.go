package store

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"gorm.io/gorm"
)

// maxBatch bounds how many callers' writes share one transaction.
const maxBatch = 64

// errStoreClosed answers a batched write asked for after Close.
var errStoreClosed = errors.New("the store is closed")

// groupCommit runs the writes of many requests in one transaction (group
// commit, docs/performance.md): a request's writes wait while the one
// writer connection commits the batch before them, and then commit with
// every other request's that arrived meanwhile. Each caller is answered only
// when its batch has committed, so an answer still means "durable". With no
// other request waiting, a batch is one request and nothing waits longer
// than it did alone.
//
// SQLite only: it has one writer, and a commit is what costs there. Each
// request's writes run in a savepoint of their own, so one that fails is
// rolled back alone, as its own transaction would have been.
type groupCommit struct {
	jobs chan *batchJob

	mu     sync.RWMutex // held to send a job; Close takes it to stop them
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

type batchJob struct {
	ctx    context.Context
	fn     func(ctx context.Context, tx *Store) error
	result chan error
	// single: fn is one statement, which SQLite undoes alone when it
	// fails, or statements of which none leaves the others half done
	// (batched), so it needs no savepoint of its own.
	single bool
}

func newGroupCommit() *groupCommit {
	return &groupCommit{jobs: make(chan *batchJob), stop: make(chan struct{}), done: make(chan struct{})}
}

// InBatch runs fn's writes in a transaction shared with other callers' (on
// SQLite), and returns once that transaction has committed, or rolled back
// fn's writes when fn failed. fn must use the ctx and store it is given and
// nothing else of the database; it must not wait for other callers. Its
// ctx is not cancelled with the caller's: a statement interrupted half-way
// would abort the other callers' writes with it.
func (s *Store) InBatch(ctx context.Context, fn func(ctx context.Context, tx *Store) error) error {
	return s.inBatch(ctx, fn, false)
}

func (s *Store) inBatch(ctx context.Context, fn func(ctx context.Context, tx *Store) error, single bool) error {
	if s.batch == nil || s.inTx {
		// PostgreSQL, or already in a transaction: a transaction of its own
		// (or a part of the caller's), with the same outcome for a panic.
		job := &batchJob{ctx: ctx, fn: fn}
		if s.inTx {
			return runJob(job, s)
		}
		return s.InTx(ctx, func(tx *Store) error { return runJob(job, tx) })
	}
	job := &batchJob{ctx: context.WithoutCancel(ctx), fn: fn, result: make(chan error, 1), single: single}
	s.batch.mu.RLock()
	if s.batch.closed {
		s.batch.mu.RUnlock()
		return errStoreClosed
	}
	select {
	case s.batch.jobs <- job:
		s.batch.mu.RUnlock()
	case <-ctx.Done():
		s.batch.mu.RUnlock()
		return ctx.Err()
	}
	// Once handed over, the job runs: wait for its outcome even when the
	// caller has gone, so that nothing is answered before it is known.
	return <-job.result
}

// batched is one write statement committed with other callers' (InBatch):
// the outbox's marks, the call log and message deliveries, many a second
// under load, each once its Genesys call has been answered. write may run
// statements in sequence when each one's failure leaves what ran before it
// in a state that is right on its own (no savepoint undoes them), as a
// crash between separate writes would.
func (s *Store) batched(ctx context.Context, write func(db *gorm.DB) error) error {
	if s.batch == nil || s.inTx {
		// PostgreSQL (or a transaction already): the statement alone, as
		// one round trip.
		return write(s.db.WithContext(ctx))
	}
	return s.inBatch(ctx, func(ctx context.Context, tx *Store) error { return write(tx.db.WithContext(ctx)) }, true)
}

// commitBatches is the committer: it takes the first job waiting, every
// other one already waiting (up to maxBatch), and commits them together.
func (s *Store) commitBatches() {
	g := s.batch
	defer close(g.done)
	for {
		var first *batchJob
		select {
		case first = <-g.jobs:
		case <-g.stop:
			return
		}
		batch := []*batchJob{first}
	more:
		for len(batch) < maxBatch {
			select {
			case j := <-g.jobs:
				batch = append(batch, j)
			default:
				break more
			}
		}
		s.commitBatch(batch)
	}
}

func (s *Store) commitBatch(batch []*batchJob) {
	results := make([]error, len(batch))
	err := s.InTx(context.Background(), func(tx *Store) error {
		if len(batch) == 1 {
			// Alone in its transaction: rolling that back undoes the job's
			// writes, and nobody else's, without a savepoint's two statements.
			results[0] = runJob(batch[0], tx)
			return results[0]
		}
		// Straight to the connection: these statements never change, and
		// gorm would build each again.
		conn := tx.db.Statement.ConnPool
		savepoint := func(stmt string) error { _, err := conn.ExecContext(context.Background(), stmt); return err }
		for i, j := range batch {
			if j.single {
				results[i] = runJob(j, tx)
				continue
			}
			if err := savepoint("SAVEPOINT batch_job"); err != nil {
				return err
			}
			if results[i] = runJob(j, tx); results[i] != nil {
				if err := savepoint("ROLLBACK TO SAVEPOINT batch_job"); err != nil {
					return err
				}
			}
			if err := savepoint("RELEASE SAVEPOINT batch_job"); err != nil {
				return err
			}
		}
		return nil
	})
	for i, j := range batch {
		if err != nil && results[i] == nil {
			results[i] = fmt.Errorf("commit a batch of %d writes: %w", len(batch), err)
		}
		j.result <- results[i]
	}
}

// runJob runs one caller's writes; a panic fails that caller, not the batch.
func runJob(j *batchJob, tx *Store) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("batched write panicked: %v", p)
		}
	}()
	return j.fn(j.ctx, tx)
}

// close stops taking jobs, lets the committer finish the batch it has, and
// waits for it.
func (g *groupCommit) close() {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	g.closed = true
	g.mu.Unlock()
	close(g.stop)
	<-g.done
}
