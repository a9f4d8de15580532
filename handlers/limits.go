package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/config"
	"github.com/handover-relay/handover/store"
)

// LimitStore counts what the limits count, for every instance together.
type LimitStore interface {
	CountHit(ctx context.Context, key string, window time.Duration) (int64, time.Time, error)
	OpenStream(ctx context.Context, instanceID string, limits map[string]int64, deadAfter time.Duration) (string, error)
	CloseStream(ctx context.Context, instanceID string, keys []string) error
	Now() time.Time
}

// Limits bound what one client does on the public surfaces
// (docs/security.md): handovers per endpoint and per client address a
// minute, user messages per session a second, open event streams per
// endpoint and per client address, demo chat sessions per address an hour.
// Over a limit the answer is 429 with Retry-After. A nil *Limits limits
// nothing.
type Limits struct {
	Store     LimitStore
	Config    config.Limits
	Instance  string        // this instance's id: its open streams are counted under it
	DeadAfter time.Duration // a dead instance's streams no longer count
	Logger    *slog.Logger
}

// addressKey names a client address in a limit's key without storing it.
func addressKey(c *fiber.Ctx) string {
	sum := sha256.Sum256([]byte(ClientAddress(c)))
	return hex.EncodeToString(sum[:8])
}

// Handover counts a handover the endpoint is asked for.
func (l *Limits) Handover(c *fiber.Ctx, e store.Endpoint) error {
	if l == nil {
		return nil
	}
	endpoint := "handovers:" + strconv.FormatInt(e.ID, 10)
	if err := l.hit(c, endpoint, l.Config.HandoversPerEndpoint, time.Minute, "This endpoint accepts at most %d handovers a minute."); err != nil {
		return err
	}
	return l.hit(c, endpoint+":"+addressKey(c), l.Config.HandoversPerAddress, time.Minute, "One client may start at most %d handovers a minute.")
}

// Message counts a user message of a session.
func (l *Limits) Message(c *fiber.Ctx, e store.Endpoint, sessionID string) error {
	if l == nil {
		return nil
	}
	key := "messages:" + strconv.FormatInt(e.ID, 10) + ":" + sessionID
	return l.hit(c, key, l.Config.MessagesPerSession, time.Second, "A session may send at most %d messages a second.")
}

// DemoSession counts a demo chat session an address opens.
func (l *Limits) DemoSession(c *fiber.Ctx) error {
	if l == nil {
		return nil
	}
	return l.hit(c, "demo-sessions:"+addressKey(c), l.Config.DemoSessionsPerAddress, time.Hour, "One address may open at most %d demo chats an hour.")
}

// hit counts one request against key and refuses it over the limit.
func (l *Limits) hit(c *fiber.Ctx, key string, limit int, window time.Duration, words string) error {
	if limit <= 0 {
		return nil
	}
	n, end, err := l.Store.CountHit(c.UserContext(), key, window)
	if err != nil {
		return err
	}
	if n <= int64(limit) {
		return nil
	}
	return l.refuse(c, key, end.Sub(l.Store.Now()), fmt.Sprintf(words, limit))
}

// refuse answers 429 with Retry-After (whole seconds, at least one).
func (l *Limits) refuse(c *fiber.Ctx, key string, wait time.Duration, message string) error {
	seconds := max(1, int(math.Ceil(wait.Seconds())))
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(seconds))
	if l.Logger != nil {
		l.Logger.WarnContext(c.UserContext(), "limit reached", slog.String("limit", key), slog.String("remote_ip", LoggedClientAddress(c)))
	}
	return botError(fiber.StatusTooManyRequests, "rate_limited", message+" Try again after Retry-After seconds.")
}

// streamRetry is the Retry-After of a refused event stream: streams end
// when their clients go, not at a window's end.
const streamRetry = 10 * time.Second

// OpenStream counts an event stream of the endpoint; the returned close
// uncounts it and must be called when the stream ends.
func (l *Limits) OpenStream(c *fiber.Ctx, e store.Endpoint) (closeStream func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	limits := map[string]int64{}
	endpoint := "streams:" + strconv.FormatInt(e.ID, 10)
	if n := l.Config.StreamsPerEndpoint; n > 0 {
		limits[endpoint] = int64(n)
	}
	if n := l.Config.StreamsPerAddress; n > 0 {
		limits[endpoint+":"+addressKey(c)] = int64(n)
	}
	if len(limits) == 0 {
		return func() {}, nil
	}
	full, err := l.Store.OpenStream(c.UserContext(), l.Instance, limits, l.DeadAfter)
	if err != nil {
		return nil, err
	}
	if full != "" {
		return nil, l.refuse(c, full, streamRetry, "Too many event streams are open (per endpoint or per client address).")
	}
	keys := make([]string, 0, len(limits))
	for k := range limits {
		keys = append(keys, k)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := l.Store.CloseStream(ctx, l.Instance, keys); err != nil && l.Logger != nil {
			l.Logger.Error("count a closed event stream", slog.Any("error", err))
		}
	}, nil
}
