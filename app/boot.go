package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/handover-relay/handover/config"
	"github.com/handover-relay/handover/handlers"
	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/store"
)

// ShutdownGrace is how long open requests get to finish after SIGTERM.
const ShutdownGrace = 10 * time.Second

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
	// Endpoints made before the Copilot and the demo chat had credentials
	// of their own get them now.
	return st.FillEndpointTokens(ctx)
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
