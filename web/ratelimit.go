package web

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/store"
)

// RateLimitStore is what the shared rate-limit storage needs from the store.
type RateLimitStore interface {
	GetRateLimit(ctx context.Context, name string) ([]byte, error)
	SetRateLimit(ctx context.Context, name string, data []byte, ttl time.Duration) error
	DeleteRateLimit(ctx context.Context, name string) error
	ResetRateLimits(ctx context.Context) error
}

// dbStorage is a fiber.Storage on the database, so that every instance on
// one database counts the same sign-in failures. fiber's interface has no
// context: each call gets its own short deadline.
type dbStorage struct{ store RateLimitStore }

var _ fiber.Storage = dbStorage{}

const storageTimeout = 5 * time.Second

func (s dbStorage) Get(key string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), storageTimeout)
	defer cancel()
	return s.store.GetRateLimit(ctx, key)
}

func (s dbStorage) Set(key string, val []byte, exp time.Duration) error {
	if key == "" || len(val) == 0 {
		return nil // fiber's storages ignore these
	}
	ctx, cancel := context.WithTimeout(context.Background(), storageTimeout)
	defer cancel()
	return s.store.SetRateLimit(ctx, key, val, exp)
}

func (s dbStorage) Delete(key string) error {
	ctx, cancel := context.WithTimeout(context.Background(), storageTimeout)
	defer cancel()
	return s.store.DeleteRateLimit(ctx, key)
}

func (s dbStorage) Reset() error {
	ctx, cancel := context.WithTimeout(context.Background(), storageTimeout)
	defer cancel()
	return s.store.ResetRateLimits(ctx)
}

// Close does nothing: the store belongs to the server.
func (dbStorage) Close() error { return nil }

var _ RateLimitStore = (*store.Store)(nil)
