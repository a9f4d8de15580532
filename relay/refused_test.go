package relay_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store"
)

func TestARefusedMalformedOrStaleWebhookKeepsFourKilobytesOfItsBodyWithItsLengthAndHash(t *testing.T) {
	f := newReplayFixture(t, store.Options{})
	ctx := context.Background()
	now := time.Now()
	// A signed agent message whose text makes it 900 KB: Genesys never sends
	// one, but its signature is what decides whether the relay keeps it whole.
	big := func(id string, at time.Time) []byte {
		return f.body(id, strings.Repeat("é", 450_000), at)
	}
	cases := []struct {
		name      string
		body      []byte
		signature string
		verdict   string
		whole     bool
	}{
		{"malformed", bytes.Repeat([]byte("{"), 900_000), "", store.VerdictMalformed, false},
		{"forged", big("forged-1", now), genesys.Sign("not-the-secret-0123456789", big("forged-1", now)), store.VerdictMismatch, false},
		{"unsigned", big("unsigned-1", now), "", store.VerdictMissing, false},
		{"stale", big("stale-1", now.Add(-time.Hour)), genesys.Sign(replaySecret, big("stale-1", now.Add(-time.Hour))), store.VerdictStale, false},
		{"valid", big("valid-1", now), genesys.Sign(replaySecret, big("valid-1", now)), store.VerdictValid, true},
		{"small and forged", f.body("forged-2", "hi", now), genesys.Sign("not-the-secret-0123456789", f.body("forged-2", "hi", now)), store.VerdictMismatch, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := f.relay.ReceiveWebhook(ctx, relay.IncomingWebhook{Body: c.body, Signature: c.signature, ReceivedAt: now})
			if err != nil {
				t.Fatal(err)
			}
			w, err := f.store.WebhookByID(ctx, res.LogID)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(c.body)
			if w.Verdict != c.verdict || w.BodyBytes != int64(len(c.body)) || w.BodySHA256 != hex.EncodeToString(sum[:]) {
				t.Fatalf("logged %s with %d bytes, SHA-256 %s; want %s, %d bytes, %x", w.Verdict, w.BodyBytes, w.BodySHA256, c.verdict, len(c.body), sum)
			}
			switch {
			case c.whole && (w.Body != string(c.body) || w.Truncated()):
				t.Fatalf("kept %d of %d bytes, want the whole body", len(w.Body), len(c.body))
			case !c.whole && (len(w.Body) > relay.MaxRefusedBody || len(w.Body) < relay.MaxRefusedBody-3 || !strings.HasPrefix(string(c.body), w.Body) || !w.Truncated()):
				t.Fatalf("kept %d of %d bytes, want the first 4 KB", len(w.Body), len(c.body))
			}
			if !c.whole && !utf8Valid(w.Body) {
				t.Fatal("the kept start cuts a character in two")
			}
		})
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestATruncatedWebhookCannotBeReplayed(t *testing.T) {
	f := newReplayFixture(t, store.Options{})
	ctx := context.Background()
	body := f.body("stale-2", strings.Repeat("x", 10_000), time.Now().Add(-time.Hour))
	stale := f.receive(body, replaySecret, time.Now())
	if stale.Verdict != store.VerdictStale || !stale.Truncated() {
		t.Fatalf("a 10 KB stale webhook: %s, truncated %v", stale.Verdict, stale.Truncated())
	}
	if _, err := f.relay.ReplayWebhook(ctx, stale.ID); !errors.Is(err, relay.ErrReplayTruncated) {
		t.Fatalf("replaying it: %v, want ErrReplayTruncated", err)
	}
	if replays, _ := f.store.WebhookReplays(ctx, stale.ID); len(replays) != 0 {
		t.Fatalf("%d replays logged, want none", len(replays))
	}
	// A stale webhook kept whole still can: an admin replays it on purpose.
	small := f.receive(f.body("stale-3", "short", time.Now().Add(-time.Hour)), replaySecret, time.Now())
	if replay, err := f.relay.ReplayWebhook(ctx, small.ID); err != nil || replay.Verdict != store.VerdictValid || replay.Body != small.Body || replay.BodySHA256 != small.BodySHA256 {
		t.Fatalf("replaying a whole stale webhook: %v, %+v", err, replay)
	}
}
