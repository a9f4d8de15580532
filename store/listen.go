package store

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// keepListening runs listen, which holds one LISTEN connection, until ctx
// ends: the event fan-out's and the endpoint watch's. After a lost
// connection it runs lost, logs, and connects again after a backoff from
// 100 ms to 10 s, back to 100 ms once a connection has held for a minute.
func keepListening(ctx context.Context, log *slog.Logger, what string, listen func(context.Context) error, lost func()) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		started := time.Now()
		err := listen(ctx)
		lost()
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > time.Minute {
			backoff = 100 * time.Millisecond
		}
		log.WarnContext(ctx, what+": listening connection lost; reconnecting", slog.Duration("in", backoff), slog.Any("error", err))
		sleepCtx(ctx, backoff)
		backoff = min(backoff*2, 10*time.Second)
	}
}

// listenConn opens a connection of its own to the database at url, named
// name in pg_stat_activity, that LISTENs on channel.
func listenConn(ctx context.Context, url, name, channel string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	cfg.RuntimeParams["application_name"] = name
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		closeListenConn(conn)
		return nil, fmt.Errorf("listen: %w", err)
	}
	return conn, nil
}

// closeListenConn closes a listening connection, waiting for the server at
// most a few seconds.
func closeListenConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn.Close(ctx)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
