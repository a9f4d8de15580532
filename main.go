// Handover hands bot conversations over to human agents in Genesys Cloud
// through Open Messaging, and gives admins a console to run it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"handover/config"
	"handover/handlers"
	"handover/logging"
	"handover/secret"
	"handover/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "handover:", err)
		os.Exit(1)
	}
}

// shutdownGrace is how long open requests get to finish after SIGTERM.
const shutdownGrace = 10 * time.Second

// run wires Handover together and serves until ctx is cancelled.
func run(ctx context.Context, args []string, getenv func(string) string, logOut io.Writer) error {
	flags := flag.NewFlagSet("handover", flag.ContinueOnError)
	healthcheck := flags.Bool("healthcheck", false, "probe /readyz of the server on HANDOVER_ADDR and exit non-zero unless it is ready (for container health checks)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if *healthcheck {
		return probeReady(ctx, cfg.Addr)
	}

	logger, err := logging.New(logOut, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	srv, err := newServer(ctx, cfg, logger, nil)
	if err != nil {
		return err
	}
	return srv.serve(ctx)
}

// openSecretBox loads the key that seals secrets at rest: HANDOVER_SECRET_KEY,
// or the key file, created with a new key on first start.
func openSecretBox(cfg config.Config, logger *slog.Logger) (*secret.Box, error) {
	var key []byte
	if cfg.SecretKey != "" {
		k, err := secret.ParseKey(cfg.SecretKey)
		if err != nil {
			return nil, fmt.Errorf("HANDOVER_SECRET_KEY: %w", err)
		}
		key = k
	} else {
		k, created, err := secret.LoadOrCreateKeyFile(cfg.SecretKeyFile)
		if err != nil {
			return nil, err
		}
		if created {
			logger.Warn("created a new secret key; back it up with the database, secrets cannot be read without it", slog.String("key_file", cfg.SecretKeyFile))
		}
		key = k
	}
	return secret.NewBox(key)
}

// bootstrap creates the first admin and seeds the operator's API key.
func bootstrap(ctx context.Context, cfg config.Config, st *store.Store, logger *slog.Logger) error {
	created, generated, err := handlers.EnsureAdmin(ctx, st, cfg.AdminUser, cfg.AdminPassword)
	if err != nil {
		return fmt.Errorf("create admin account: %w", err)
	}
	switch {
	case generated != "":
		// Printed once: only its bcrypt hash is stored.
		logger.Warn("created the admin account with a random password; sign in and keep it safe, it is not shown again",
			slog.String("user", cfg.AdminUser), slog.String("password", generated), slog.String("console", cfg.PublicURL+"/login"))
	case created:
		logger.Info("created the admin account with HANDOVER_ADMIN_PASSWORD", slog.String("user", cfg.AdminUser))
	}
	if cfg.AdminAPIKey != "" {
		if err := handlers.SeedAPIKey(ctx, st, cfg.AdminAPIKey); err != nil {
			return fmt.Errorf("seed HANDOVER_ADMIN_API_KEY: %w", err)
		}
	}
	return nil
}

// probeReady asks the local server's /readyz, for `handover -healthcheck`.
func probeReady(ctx context.Context, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("HANDOVER_ADDR %q: %w", addr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort("127.0.0.1", port)+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New("not ready: /readyz answered " + resp.Status)
	}
	return nil
}

// every calls fn each interval until ctx ends.
func every(ctx context.Context, interval time.Duration, fn func()) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			fn()
		}
	}
}
