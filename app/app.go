// Package app wires Handover together: the store and its migrations, the
// first admin, the Genesys sandbox when it is on, the relay, the web app and
// the listeners, and shuts them down in order.
package app

import (
	"context"

	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/config"
	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/genesys/sandbox"
	"github.com/handover-relay/handover/handlers"
	"github.com/handover-relay/handover/live"
	"github.com/handover-relay/handover/metrics"
	"github.com/handover-relay/handover/paths"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/web"
)

// App is Handover wired together: what main starts, and what the
// end-to-end suites drive. The exported fields are for those suites.
type App struct {
	cfg      config.Config
	log      *slog.Logger
	Store    *store.Store
	Relay    *relay.Relay
	broker   *live.Broker
	Sandbox  *sandbox.Sandbox // nil unless HANDOVER_SANDBOX
	app      *fiber.App
	listener net.Listener
	LocalURL string // how this process reaches itself over loopback

	Metrics         *metrics.Metrics
	metricsListener net.Listener // HANDOVER_METRICS_ADDR; nil when metrics are not served apart
	// maxConnections is how many client connections the listener holds at
	// once, below the process's fileHandles limit.
	maxConnections, fileHandles int
}

// Tuning lets tests shorten the relay's and the sandbox's timings, and move
// the store's clock on instead of waiting for the real one; nil in production.
type Tuning struct {
	Timings func(*relay.Config, *sandbox.Config)
	Now     func() time.Time // the store's clock (store.Options.Now); the real one when nil
}

// New opens the store, migrates, creates the first admin, listens, and
// wires the sandbox (when enabled), the relay and the web app.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger, tune *Tuning) (_ *App, err error) {
	box, err := openSecretBox(cfg, logger)
	if err != nil {
		return nil, err
	}
	storeOpts := store.Options{Logger: logger}
	if tune != nil {
		storeOpts.Now = tune.Now
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, box, storeOpts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	if err := st.Migrate(ctx); err != nil {
		return nil, err
	}
	if err := bootstrap(ctx, cfg, st, logger); err != nil {
		return nil, err
	}
	listener, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (HANDOVER_ADDR): %w", cfg.Addr, err)
	}
	s := &App{cfg: cfg, log: logger, Store: st, listener: listener, broker: live.NewBroker()}
	if st.Dialect() == store.Postgres {
		// Several instances may share the database: a change one makes
		// reaches the event streams connected to the others.
		s.broker = live.NewBrokerWith(store.NewPostgresFanout(cfg.DatabaseURL, logger))
	}
	s.LocalURL = "http://" + loopbackAddr(listener.Addr())
	s.Metrics = metrics.New(metrics.Sources{Outbox: st, BotDeliveries: st, Open: st, Watchers: s.broker, Logger: logger})
	// No client may end the process by taking every file handle: accepts
	// that fail are retried, and connections are capped below the limit.
	s.maxConnections, s.fileHandles = web.ConnectionLimit()
	s.listener = web.GuardListener(listener, web.ListenerConfig{MaxConnections: s.maxConnections, Logger: logger, OnAcceptError: s.Metrics.AcceptError})
	if cfg.MetricsAddr != "" {
		if s.metricsListener, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			listener.Close()
			return nil, fmt.Errorf("listen on %s (HANDOVER_METRICS_ADDR): %w", cfg.MetricsAddr, err)
		}
	}
	reach := genesys.HTTPOptions{AllowPrivate: cfg.AllowPrivateGenesys, CallTimeout: cfg.GenesysCallTimeout}
	genesysHTTP := genesys.NewHTTPClientWith(reach)
	genesysHTTP.Transport = s.Metrics.Transport(genesysHTTP.Transport)

	// The bot's URLs (its Bot URL, its Bot Webhook URL) are reached within their own bounds.
	botHTTP := genesys.NewHTTPClientWith(genesys.HTTPOptions{AllowPrivate: cfg.AllowPrivateBotURLs})
	relayCfg := relay.Config{
		Store:      st,
		Broker:     s.broker,
		Logger:     logger,
		HTTPClient: genesysHTTP,
		// The endpoints' external bots: the same private-address rule as Genesys.
		BotHTTPClient:       botHTTP,
		Dialer:              genesys.NewDialer(reach),
		Observer:            s.Metrics,
		RetryFor:            cfg.OutboxRetryFor,
		RequestsPerMinute:   cfg.GenesysRequestsPerMinute,
		CallTimeout:         cfg.GenesysCallTimeout,
		WebhookReplayWindow: cfg.WebhookReplayWindow,
		WebhookStatus:       handlers.WebhookStatus,
		PollInterval:        cfg.PollInterval,
		SingleInstance:      st.Dialect() == store.SQLite,
		Instance:            store.Instance{ID: secret.NewToken(8), Version: Version(), Address: instanceAddress(listener.Addr())},
		HeartbeatInterval:   cfg.InstanceHeartbeat,
		DeadAfter:           cfg.InstanceDeadAfter,
		RefusedLogPerMinute: cfg.RefusedLogPerMinute,
		LogMaxBytes:         cfg.LogMaxBytes,
		BotWebhookClient:    botHTTP,
		BotRetryFor:         cfg.BotWebhookRetryFor,
	}
	// The demo's sandbox plays Genesys as it is (docs/genesys.md §RealGenesys):
	// a flow greets the customer before any agent, webhooks name the
	// integration rather than the agent, and receipts follow one another.
	sandboxCfg := sandbox.Config{PublicBaseURL: s.LocalURL + paths.Sandbox, Logger: logger, FlowGreeting: SandboxGreeting, DeskCSRF: handlers.CSRFToken,
		NicknameIsIntegrationName: true, ReceiptSequence: []string{genesys.ReceiptSent, genesys.ReceiptDelivered}}
	if tune != nil && tune.Timings != nil {
		tune.Timings(&relayCfg, &sandboxCfg)
	}
	if cfg.Sandbox {
		if s.Sandbox, err = sandbox.New(sandboxCfg); err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("start the Genesys sandbox: %w", err)
		}
		if err := s.seedSandbox(ctx); err != nil {
			s.closeListeners()
			return nil, err
		}
	}
	s.Relay = relay.New(relayCfg)
	s.app = web.New(web.Deps{Config: cfg, Store: st, Logger: logger, Relay: s.Relay, Broker: s.broker, Sandbox: s.Sandbox, Metrics: s.Metrics.Handler()})
	return s, nil
}

// Routes lists every route the app serves (the security suite walks them).
func (s *App) Routes() []fiber.Route { return s.app.GetRoutes(true) }

func (s *App) closeListeners() {
	s.listener.Close()
	if s.metricsListener != nil {
		s.metricsListener.Close()
	}
}

// serveMetrics serves the metrics app (web.NewMetrics) on
// HANDOVER_METRICS_ADDR until shut down.
func (s *App) serveMetrics() *fiber.App {
	app := web.NewMetrics(web.Deps{Config: s.cfg, Logger: s.log, Metrics: s.Metrics.Handler()})
	go func() {
		if err := app.Listener(s.metricsListener); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Error("metrics server stopped", slog.Any("error", err))
		}
	}()
	return app
}

// serve runs until ctx ends, then shuts down in order: event streams first
// (they would hold the HTTP shutdown), then HTTP, then the relay's workers,
// then the database.
func (s *App) Serve(ctx context.Context) error {
	defer s.Store.Close()
	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	var workers sync.WaitGroup
	workers.Go(func() {
		if err := s.Relay.Run(relayCtx); err != nil {
			s.log.Error("relay stopped", slog.Any("error", err))
		}
	})
	workers.Go(func() {
		if err := s.broker.Run(relayCtx); err != nil {
			s.log.Error("event fan-out stopped", slog.Any("error", err))
		}
	})
	var metricsServer *fiber.App
	if s.metricsListener != nil {
		metricsServer = s.serveMetrics()
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.app.Listener(s.listener) }()
	go every(ctx, time.Hour, func() {
		if _, err := s.Store.DeleteExpiredSessions(ctx, s.cfg.SessionIdleTimeout); err != nil {
			s.log.Error("prune expired sessions", slog.Any("error", err))
		}
		if _, err := s.Store.DeleteExpiredRateLimits(ctx); err != nil {
			s.log.Error("prune expired rate limits", slog.Any("error", err))
		}
	})
	// A limit's window is a row (one per session and second for the message
	// limit): windows that are over go every minute, so the table holds
	// about a minute of traffic.
	go every(ctx, time.Minute, func() {
		if _, err := s.Store.DeleteExpiredHitCounts(ctx); err != nil {
			s.log.Error("prune expired limit counts", slog.Any("error", err))
		}
	})
	go s.Relay.PruneEvery(ctx, s.cfg.WebhookRetention, time.Hour)
	attrs := []any{slog.String("console", s.cfg.PublicURL+"/"), slog.String("listen", s.listener.Addr().String()), slog.String("database", string(s.Store.Dialect())),
		slog.Int("max_connections", s.maxConnections), slog.Int("file_handle_limit", s.fileHandles)}
	if s.Sandbox != nil {
		attrs = append(attrs, slog.String("sandbox_agent_desk", s.cfg.PublicURL+paths.SandboxDesk))
	}
	if s.Sandbox != nil && !s.cfg.Development {
		s.log.Warn("THE GENESYS SANDBOX IS ON at a public address: a fake Genesys with an agent desk (behind the console's sign-in) for tests and demos; unset HANDOVER_SANDBOX for production",
			slog.String("public_url", s.cfg.PublicURL))
	}
	// The start's last line: what comes before it is all the start says.
	s.log.Info("Handover is running", attrs...)

	var err error
	select {
	case err = <-serveErr:
		err = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	// Take no more Genesys work at once and hand over what is held (outbox
	// leases, the OAuth clients' channels), so that another instance goes
	// on within seconds while this one drains its HTTP requests. A webhook
	// stored meanwhile is processed by the next instance's sweep.
	stopRelay()
	s.broker.Close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	if shutdownErr := s.app.ShutdownWithContext(shutdownCtx); shutdownErr != nil && err == nil {
		err = fmt.Errorf("shut down: %w", shutdownErr)
	}
	if metricsServer != nil {
		metricsServer.ShutdownWithContext(shutdownCtx)
	}
	stopRelay()
	workers.Wait()
	if s.Sandbox != nil {
		s.Sandbox.Close()
	}
	return err
}

// Version is the build's version: the module's, or the VCS revision of a
// development build.
func Version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	revision, dirty := "", false
	for _, setting := range info.Settings {
		switch setting.Key {
		case "vcs.revision":
			revision = setting.Value
		case "vcs.modified":
			dirty = setting.Value == "true"
		}
	}
	if revision == "" {
		return "devel"
	}
	if len(revision) > 12 {
		revision = revision[:12]
	}
	if dirty {
		revision += "-dirty"
	}
	return revision
}

// instanceAddress is how the instances page names this one: host name and port.
func instanceAddress(addr net.Addr) string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	if tcp, ok := addr.(*net.TCPAddr); ok {
		return net.JoinHostPort(host, fmt.Sprint(tcp.Port))
	}
	return host
}

// loopbackAddr turns a listen address into one this process can call.
func loopbackAddr(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	ip := tcp.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(tcp.Port))
}
