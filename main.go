// Handover hands bot conversations over to human agents in Genesys Cloud
// through Open Messaging, and gives admins a console to run it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/handover-relay/handover/app"
	"github.com/handover-relay/handover/config"
	"github.com/handover-relay/handover/logging"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "handover:", err)
		os.Exit(1)
	}
}

// run reads the configuration, then starts Handover (package app) and
// serves until ctx is cancelled; with -healthcheck it only probes a running one.
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
	a, err := app.New(ctx, cfg, logger, nil)
	if err != nil {
		return err
	}
	return a.Serve(ctx)
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
