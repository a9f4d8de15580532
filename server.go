package main

import (
	"context"

	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"handover/config"
	"handover/genesys"
	"handover/genesys/sandbox"
	"handover/live"
	"handover/metrics"
	"handover/paths"
	"handover/relay"
	"handover/secret"
	"handover/store"
	"handover/web"
)

// server is Handover wired together: what run starts, and what the
// end-to-end tests drive.
type server struct {
	cfg      config.Config
	log      *slog.Logger
	store    *store.Store
	relay    *relay.Relay
	broker   *live.Broker
	sandbox  *sandbox.Sandbox // nil unless HANDOVER_SANDBOX
	app      *fiber.App
	listener net.Listener
	localURL string // how this process reaches itself over loopback

	metrics         *metrics.Metrics
	metricsListener net.Listener // HANDOVER_METRICS_ADDR; nil when metrics are not served apart
	// maxConnections is how many client connections the listener holds at
	// once, below the process's fileHandles limit.
	maxConnections, fileHandles int
}

// tuning lets tests shorten the relay's and the sandbox's timings, and move
// the store's clock on instead of waiting for the real one; nil in production.
type tuning struct {
	timings func(*relay.Config, *sandbox.Config)
	now     func() time.Time // the store's clock (store.Options.Now); the real one when nil
}

// newServer opens the store, migrates, creates the first admin, listens, and
// wires the sandbox (when enabled), the relay and the web app.
func newServer(ctx context.Context, cfg config.Config, logger *slog.Logger, tune *tuning) (_ *server, err error) {
	box, err := openSecretBox(cfg, logger)
	if err != nil {
		return nil, err
	}
	storeOpts := store.Options{Logger: logger}
	if tune != nil {
		storeOpts.Now = tune.now
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
	s := &server{cfg: cfg, log: logger, store: st, listener: listener, broker: live.NewBroker()}
	if st.Dialect() == store.Postgres {
		// Several instances may share the database: a change one makes
		// reaches the event streams connected to the others.
		s.broker = live.NewBrokerWith(store.NewPostgresFanout(cfg.DatabaseURL, logger))
	}
	s.localURL = "http://" + loopbackAddr(listener.Addr())
	s.metrics = metrics.New(metrics.Sources{Outbox: st, Watchers: s.broker, Logger: logger})
	// No client may end the process by taking every file handle: accepts
	// that fail are retried, and connections are capped below the limit.
	s.maxConnections, s.fileHandles = web.ConnectionLimit()
	s.listener = web.GuardListener(listener, web.ListenerConfig{MaxConnections: s.maxConnections, Logger: logger, OnAcceptError: s.metrics.AcceptError})
	if cfg.MetricsAddr != "" {
		if s.metricsListener, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			listener.Close()
			return nil, fmt.Errorf("listen on %s (HANDOVER_METRICS_ADDR): %w", cfg.MetricsAddr, err)
		}
	}
	genesysHTTP := genesys.NewHTTPClient()
	genesysHTTP.Transport = s.metrics.Transport(genesysHTTP.Transport)

	relayCfg := relay.Config{
		Store:               st,
		Broker:              s.broker,
		Logger:              logger,
		HTTPClient:          genesysHTTP,
		Observer:            s.metrics,
		RetryFor:            cfg.OutboxRetryFor,
		RequestsPerMinute:   cfg.GenesysRequestsPerMinute,
		WebhookReplayWindow: cfg.WebhookReplayWindow,
		PollInterval:        cfg.PollInterval,
		SingleInstance:      st.Dialect() == store.SQLite,
		RefusedLogPerMinute: cfg.RefusedLogPerMinute,
		LogMaxBytes:         cfg.LogMaxBytes,
	}
	// The demo's sandbox plays Genesys as it is (docs/genesys.md §RealGenesys):
	// a flow greets the customer before any agent, webhooks name the
	// integration rather than the agent, and receipts follow one another.
	sandboxCfg := sandbox.Config{PublicBaseURL: s.localURL + paths.Sandbox, Logger: logger, FlowGreeting: sandboxGreeting,
		NicknameIsIntegrationName: true, ReceiptSequence: []string{genesys.ReceiptSent, genesys.ReceiptDelivered}}
	if tune != nil && tune.timings != nil {
		tune.timings(&relayCfg, &sandboxCfg)
	}
	if cfg.Sandbox {
		if s.sandbox, err = sandbox.New(sandboxCfg); err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("start the Genesys sandbox: %w", err)
		}
		if err := s.seedSandbox(ctx); err != nil {
			s.closeListeners()
			return nil, err
		}
	}
	s.relay = relay.New(relayCfg)
	s.app = web.New(web.Deps{Config: cfg, Store: st, Logger: logger, Relay: s.relay, Broker: s.broker, Sandbox: s.sandbox, Metrics: s.metrics.Handler()})
	return s, nil
}

func (s *server) closeListeners() {
	s.listener.Close()
	if s.metricsListener != nil {
		s.metricsListener.Close()
	}
}

// serveMetrics serves the metrics app (web.NewMetrics) on
// HANDOVER_METRICS_ADDR until shut down.
func (s *server) serveMetrics() *fiber.App {
	app := web.NewMetrics(web.Deps{Config: s.cfg, Logger: s.log, Metrics: s.metrics.Handler()})
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
func (s *server) serve(ctx context.Context) error {
	defer s.store.Close()
	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	var workers sync.WaitGroup
	workers.Go(func() {
		if err := s.relay.Run(relayCtx); err != nil {
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
		if _, err := s.store.DeleteExpiredSessions(ctx, s.cfg.SessionIdleTimeout); err != nil {
			s.log.Error("prune expired sessions", slog.Any("error", err))
		}
		if _, err := s.store.DeleteExpiredRateLimits(ctx); err != nil {
			s.log.Error("prune expired rate limits", slog.Any("error", err))
		}
	})
	go s.relay.PruneLogsEvery(ctx, s.cfg.WebhookRetention, time.Hour)
	attrs := []any{slog.String("console", s.cfg.PublicURL+"/"), slog.String("listen", s.listener.Addr().String()), slog.String("database", string(s.store.Dialect())),
		slog.Int("max_connections", s.maxConnections), slog.Int("file_handle_limit", s.fileHandles)}
	if s.sandbox != nil {
		attrs = append(attrs, slog.String("sandbox_agent_desk", s.cfg.PublicURL+paths.SandboxDesk))
	}
	s.log.Info("Handover is running", attrs...)

	var err error
	select {
	case err = <-serveErr:
		err = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	s.broker.Close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if shutdownErr := s.app.ShutdownWithContext(shutdownCtx); shutdownErr != nil && err == nil {
		err = fmt.Errorf("shut down: %w", shutdownErr)
	}
	if metricsServer != nil {
		metricsServer.ShutdownWithContext(shutdownCtx)
	}
	stopRelay()
	workers.Wait()
	if s.sandbox != nil {
		s.sandbox.Close()
	}
	return err
}

// sandboxGreeting is what the sandbox's inbound message flow says before
// Transfer to ACD, as the setup assistant suggests.
const sandboxGreeting = "Connecting you with an agent. Please wait…"

// Sandbox set-up: one OAuth client, one queue and one Open Messaging
// integration whose webhook points back at this process.
const (
	sandboxEndpointName = "Sandbox"
	sandboxDeployment   = "Handover Sandbox"
	sandboxQueueID      = "5a0d9a3e-1c2b-4d5e-8f90-a1b2c3d4e5f6"
	sandboxClientID     = "sandbox-client"
)

// seedSandbox makes the "Sandbox" endpoint ready to hand over to the sandbox,
// creating it on first start. The sandbox keeps no state across restarts, so
// handovers still open from a previous run are ended.
func (s *server) seedSandbox(ctx context.Context) error {
	org, err := s.store.OrganisationByName(ctx, store.DefaultOrganisation)
	if err != nil {
		return err
	}
	endpoints, err := s.store.ListEndpoints(ctx)
	if err != nil {
		return err
	}
	var e *store.Endpoint
	for i := range endpoints {
		if endpoints[i].Name == sandboxEndpointName && endpoints[i].OrganisationID == org.ID {
			e = &endpoints[i]
		}
	}
	if e == nil {
		e = &store.Endpoint{
			OrganisationID: org.ID, Name: sandboxEndpointName, URLToken: secret.NewToken(32), Provider: store.ProviderGenesysCloudOM,
			Host: s.localURL + paths.Sandbox, DeploymentName: sandboxDeployment, QueueID: sandboxQueueID,
			ClientID: sandboxClientID, ClientSecret: secret.NewToken(24), WebhookSecret: secret.NewToken(24),
			SendProfile: true, DefaultLanguage: "english", DefaultSkills: []string{"support"}, DefaultPriority: 5,
			DefaultCustomAttributes: map[string]string{"source": "handover-demo"}, RelayTyping: true,
		}
		if err := s.store.CreateEndpoint(ctx, e); err != nil {
			return fmt.Errorf("create the Sandbox endpoint: %w", err)
		}
		s.log.Info("created the Sandbox endpoint", slog.String("config_url", s.cfg.PublicURL+"/"+e.URLToken))
	} else if e.Host != s.localURL+paths.Sandbox {
		// The listen address changed since the endpoint was made.
		e.Host = s.localURL + paths.Sandbox
		if err := s.store.UpdateEndpoint(ctx, e); err != nil {
			return err
		}
	}
	s.sandbox.AddClient(e.ClientID, e.ClientSecret)
	s.sandbox.AddQueue(e.QueueID, "Support")
	integration := s.sandbox.AddIntegration(e.DeploymentName, s.localURL+paths.GenesysWebhook, e.WebhookSecret)
	if err := s.store.SetEndpointIntegration(ctx, e.ID, integration.ID, ""); err != nil {
		return err
	}
	open, err := s.store.OpenConversationsWithGenesysID(ctx, 100000)
	if err != nil {
		return err
	}
	for _, conv := range open {
		if conv.EndpointID == e.ID {
			if _, err := s.store.EndConversation(ctx, conv.ID, store.StateEnded, "sandbox_restarted", s.store.Now()); err != nil {
				return err
			}
		}
	}
	return nil
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
