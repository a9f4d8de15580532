package e2e

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/handover-relay/handover/config"
	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/store"
)

// One client must not be able to take Handover down (docs/security.md).
// These tests send the real wiring, over loopback, what a hostile client
// would to cost it disk and memory: refused requests by the thousand and by
// the megabyte. A bounded number of them, from a handful of senders, so that
// they finish in seconds.

// databaseBytes is the size of the SQLite database file and its
// write-ahead log, after a checkpoint has moved the log into the file.
func databaseBytes(t *testing.T, inst *instance, dbURL string) int64 {
	t.Helper()
	if err := inst.srv.Store.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	path, _ := config.SQLitePath(dbURL)
	var total int64
	for _, name := range []string{path, path + "-wal"} {
		info, err := os.Stat(name)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if err == nil {
			total += info.Size()
		}
	}
	return total
}

// send posts each body from senders goroutines at once and counts the answers by status.
func send(t *testing.T, url string, senders int, bodies <-chan []byte, signature func([]byte) string) map[int]int {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: senders}}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	statuses := map[int]int{}
	var failed atomic.Value
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for body := range bodies {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if sig := signature(body); sig != "" {
					req.Header.Set(genesys.SignatureHeader, sig)
				}
				resp, err := client.Do(req)
				if err != nil {
					failed.Store(err)
					continue
				}
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatalf("a request failed: %v", err)
	}
	return statuses
}

func TestMalformedMegabytesAndThousandsOfForgedWebhooksGrowTheDatabaseByLessThanEightMegabytes(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	// The store's clock, which the per-minute counts go by; moved on below
	// instead of waiting for the minute to end.
	var ahead atomic.Int64
	d.now = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())).UTC() }
	inst := d.start()
	inst.post("/"+d.endpoint.URLToken+"/handover", handoverBody("s1"))
	d.sandboxConversation(inst, "s1")
	webhookURL := inst.base + "/handover/genesysCloudOM"
	before := databaseBytes(t, inst, d.dbURL)
	_, rowsBefore := lastWebhook(t, inst)
	start := time.Now()

	// 200 malformed bodies of 900 KB: an object that never closes.
	malformed := append([]byte(`{"id":"`), bytes.Repeat([]byte("A"), 900_000-7)...)
	bodies := make(chan []byte)
	go func() {
		defer close(bodies)
		for range 200 {
			bodies <- malformed
		}
	}()
	if got := send(t, webhookURL, 4, bodies, func([]byte) string { return "" }); got[http.StatusBadRequest] != 200 {
		t.Fatalf("malformed webhooks answered %v, want 200 × 400", got)
	}

	// 5,000 small ones that look right but are signed with a guessed secret.
	forged, _ := d.signedWebhook(inst, "s1", "forged", "hello", time.Now())
	bodies = make(chan []byte)
	go func() {
		defer close(bodies)
		for i := range 5000 {
			bodies <- bytes.Replace(forged, []byte(`"forged"`), []byte(strconv.Quote("forged-"+strconv.Itoa(i))), 2)
		}
	}()
	if got := send(t, webhookURL, 4, bodies, func(b []byte) string { return genesys.Sign("a-guessed-secret-0123456789", b) }); got[http.StatusUnauthorized] != 5000 {
		t.Fatalf("forged webhooks answered %v, want 5000 × 401", got)
	}
	elapsed := time.Since(start)

	after := databaseBytes(t, inst, d.dbURL)
	_, rowsAfter := lastWebhook(t, inst)
	t.Logf("5,200 refused webhooks (180 MB) in %s: the database grew by %d bytes (%d → %d), %d rows logged", elapsed.Round(time.Millisecond), after-before, before, after, rowsAfter-rowsBefore)
	if after-before >= 8<<20 {
		t.Fatalf("the database and its log grew by %d bytes, want less than 8 MB", after-before)
	}
	refusedRows := func() int {
		n := 0
		inst.srv.Store.ForEachWebhook(context.Background(), func(w store.Webhook) {
			if w.Verdict != store.VerdictValid {
				n++
				if len(w.Body) > 4<<10 {
					t.Errorf("webhook %d keeps %d bytes of its body", w.ID, len(w.Body))
				}
			}
		})
		return n
	}
	// 60 a minute from one address; the sends may straddle a minute or two.
	if refusedRows := refusedRows(); refusedRows > 3*60 {
		t.Fatalf("%d refused webhooks logged, want at most 60 a minute", refusedRows)
	}
	if n := counterSum(t, inst, "handover_webhooks_total", "verdict", store.VerdictMalformed); n != 200 {
		t.Errorf("handover_webhooks_total{verdict=malformed} = %v, want 200", n)
	}
	if n := counterSum(t, inst, "handover_webhooks_total", "verdict", store.VerdictMismatch); n != 5000 {
		t.Errorf("handover_webhooks_total{verdict=mismatch} = %v, want 5000", n)
	}

	// Once the minute is over, the next refusal writes how many were
	// counted and not logged: with the rows, every one is accounted for.
	ahead.Store(int64(2 * time.Minute))
	if status := inst.postWebhook([]byte("not json"), ""); status != http.StatusBadRequest {
		t.Fatalf("a malformed webhook: %d", status)
	}
	counted := 0
	for _, m := range regexp.MustCompile(`msg="refused webhooks counted, not logged" count=(\d+) source=127\.0\.0\.1`).FindAllStringSubmatch(inst.logs.String(), -1) {
		n, _ := strconv.Atoi(m[1])
		counted += n
	}
	if logged := refusedRows(); logged+counted != 5200+1 {
		t.Fatalf("%d refused webhooks logged and %d counted, want the 5,200 and the one after", logged, counted)
	}
	assertAlive(t, inst)
}

func TestThreeHundredRefusedMegabytesToTheMountedSandboxLeaveItsMemoryFlat(t *testing.T) {
	f := startFull(t) // the sandbox mounted at /sandbox/genesys, as in production
	url := f.base + "/sandbox/genesys/api/v2/conversations/messages/any/inbound/open/message"
	body := bytes.Repeat([]byte("x"), 1_000_000) // under the 1 MB body limit
	heap := func() uint64 {
		// Twice: fasthttp's buffers wait in sync.Pools, which one GC only moves aside.
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	bodies := make(chan []byte)
	go func() {
		defer close(bodies)
		for range 300 {
			bodies <- body
		}
	}()
	if got := send(t, url, 4, bodies, func([]byte) string { return "" }); got[http.StatusUnauthorized] != 300 {
		t.Fatalf("requests without a token answered %v, want 300 × 401", got)
	}
	after := heap()
	runtime.KeepAlive(body)
	grown := int64(after) - int64(before)
	t.Logf("300 refused requests of 1 MB: the heap went from %d to %d bytes (%+d)", before, after, grown)
	rejected := f.srv.Sandbox.Rejected()
	kept := 0
	for _, r := range rejected {
		kept += len(r.Body)
		if len(r.Body) > 4<<10 || r.BodyBytes != len(body) {
			t.Fatalf("a refused request keeps %d bytes of %d", len(r.Body), r.BodyBytes)
		}
	}
	if len(rejected) > 100 {
		t.Fatalf("the sandbox keeps %d refused requests, want the last 100", len(rejected))
	}
	// Kept whole, the bodies were 300 MB; what is left is 100 × 4 KB and noise.
	if grown > 16<<20 {
		t.Fatalf("the heap grew by %d bytes, want less than 16 MB", grown)
	}
	t.Logf("the sandbox keeps %d refused requests with %d bytes of body", len(rejected), kept)
}
