package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

// What logging a received webhook costs in the store alone, from as many
// callers at once as the bench's webhook load (32): the committer writes
// whatever has queued in one transaction. Run with
//
//	go test -run '^$' -bench WebhookLog ./store/
func BenchmarkWebhookLogFrom32Callers(b *testing.B) {
	s := storetest.Open(b, "sqlite:"+filepath.Join(b.TempDir(), "bench.db"))
	ctx := context.Background()
	body := `{"id":"m","type":"Text","text":"Hello from the agent ` + strings.Repeat("x", 40) + `","direction":"Outbound","channel":{"id":"integration","platform":"Open","type":"Private","messageId":"m","to":{"id":"customer"},"from":{"id":"integration","idType":"Opaque","nickname":"Bench Agent"},"time":"2026-12-04T20:00:00.000Z"}}`
	var n atomic.Int64
	b.SetParallelism(32 / max(1, runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			key := fmt.Sprintf("integration/m%d/Text", i)
			w := &store.Webhook{ReceivedAt: time.Now(), IntegrationID: "integration", GenesysMessageID: fmt.Sprint("m", i), EventType: "Text",
				Headers: map[string]string{"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=abc"}, Body: body, BodyBytes: int64(len(body)),
				Verdict: store.VerdictValid, Status: 200, DedupeKey: &key}
			if _, err := s.InsertWebhook(ctx, w); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
