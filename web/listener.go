package web

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"
)

// ListenerConfig bounds what one listener may cost.
type ListenerConfig struct {
	// MaxConnections is how many connections may be open at once; further
	// clients wait in the kernel's backlog until one closes.
	MaxConnections int
	Logger         *slog.Logger
	// OnAcceptError is told about every failed accept (a metric).
	OnAcceptError func()
}

// GuardListener wraps ln so that no client can end the server: an accept
// that fails (out of file handles, or any other error but a closed
// listener) is retried after a short backoff, logged at most once per
// acceptErrorLogEvery, instead of ending Serve; and at most MaxConnections
// are open at once, so that the process keeps file handles for its
// database, its calls to Genesys and its WebSockets.
func GuardListener(ln net.Listener, cfg ListenerConfig) net.Listener {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &guardedListener{Listener: ln, cfg: cfg, slots: make(chan struct{}, max(1, cfg.MaxConnections)), closed: make(chan struct{})}
}

// acceptErrorLogEvery is how often failing accepts are logged, at most.
const acceptErrorLogEvery = 10 * time.Second

type guardedListener struct {
	net.Listener
	cfg   ListenerConfig
	slots chan struct{} // one per open connection

	closeOnce sync.Once
	closed    chan struct{}

	mu         sync.Mutex
	lastLogged time.Time
	unlogged   int
}

func (l *guardedListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.closed:
		return nil, net.ErrClosed
	}
	backoff := 5 * time.Millisecond
	for {
		conn, err := l.Listener.Accept()
		if err == nil {
			return &slotConn{Conn: conn, release: func() { <-l.slots }}, nil
		}
		if errors.Is(err, net.ErrClosed) {
			<-l.slots
			return nil, err
		}
		l.acceptFailed(err)
		select {
		case <-time.After(backoff):
		case <-l.closed:
			<-l.slots
			return nil, net.ErrClosed
		}
		backoff = min(2*backoff, time.Second)
	}
}

func (l *guardedListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

func (l *guardedListener) acceptFailed(err error) {
	if l.cfg.OnAcceptError != nil {
		l.cfg.OnAcceptError()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.lastLogged) < acceptErrorLogEvery {
		l.unlogged++
		return
	}
	l.cfg.Logger.Warn("accepting a connection failed; retrying", slog.Any("error", err), slog.Int("failures_not_logged", l.unlogged),
		slog.Bool("out_of_file_handles", errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)))
	l.lastLogged, l.unlogged = time.Now(), 0
}

// slotConn gives its slot back when closed, once.
type slotConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// ConnectionLimit is how many client connections the process may hold: the
// file-handle limit (RLIMIT_NOFILE, which Go raises to its hard limit at
// start) less a reserve for the database, outbound Genesys calls, the
// Notifications WebSockets and the metrics listener: a quarter of the limit,
// at least 64.
func ConnectionLimit() (limit, fileHandles int) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return 10000, 0
	}
	handles := int(min(rl.Cur, 1<<30))
	reserve := max(64, handles/4)
	return max(16, handles-reserve), handles
}
