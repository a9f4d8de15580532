// Command bench measures Handover over loopback and prints the figures as a
// Markdown table: webhook ingest beside a bare net/http HMAC server, relay
// overhead, live fan-out to SSE watchers, and memory. Run it from the
// repository root:
//
//	go run ./bench                # SQLite
//	go run ./bench -postgres URL  # SQLite and PostgreSQL
//
// It builds and starts the real binary, runs the Genesys sandbox in this
// process as Genesys, and drives both with a fixed-concurrency Go client.
// Every loop is bounded in count and time; every address is 127.0.0.1.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/genesys/sandbox"
)

const (
	adminAPIKey   = "hov_bench-admin-api-key-0123456789"
	metricsToken  = "bench-metrics-token-0123456789"
	adminPassword = "bench-admin-password"
	webhookSecret = "bench-webhook-secret-0123456789"
	clientID      = "bench-client"
	clientSecret  = "bench-client-secret"
	queueID       = "3b9e2f10-6c1d-4a7e-9f02-5d8c7b6a4e31"
	deployment    = "bench-deployment"
	sinkQueueID   = "9d41c7e2-0b3a-4f6e-8a15-2c7d9e3b5f60"
)

func main() {
	postgresURL := flag.String("postgres", os.Getenv("HANDOVER_BENCH_POSTGRES_URL"), "also measure on this PostgreSQL database, which must be empty (drop and create it between runs)")
	duration := flag.Duration("duration", 5*time.Second, "how long each load runs")
	concurrency := flag.Int("concurrency", 32, "concurrent clients for the webhook load")
	watchers := flag.Int("watchers", 1000, "SSE watchers for the fan-out test")
	conversations := flag.Int("conversations", 10000, "active conversations for the memory test")
	profiles := flag.String("pprof", "", "build Handover with -tags pprof and write CPU profiles of the ingest and relay loads into this directory (go tool pprof reads them)")
	quick := flag.Bool("quick", false, "measure only the ingest and relay rows, for trying a change (docs/performance.md reports full runs)")
	flag.Parse()
	if err := run(*postgresURL, *duration, *concurrency, *watchers, *conversations, *profiles, *quick); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// result is one row of the printed table: met says whether the figure
// meets the target ("yes", "no", or "—" where there is no target to meet).
type result struct{ name, setup, figure, target, met string }

// verdict is a result's met column.
func verdict(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

func run(postgresURL string, duration time.Duration, concurrency, watchers, conversations int, profiles string, quick bool) error {
	dir, err := os.MkdirTemp("", "handover-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	binary := filepath.Join(dir, "handover")
	fmt.Fprintln(os.Stderr, "building the binary…")
	build := exec.Command("go", "build", "-o", binary, ".")
	if profiles != "" {
		build = exec.Command("go", "build", "-tags", "pprof", "-o", binary, ".")
	}
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}

	var results []result
	baseline, err := measureBaseline(duration, concurrency)
	if err != nil {
		return err
	}
	results = append(results, result{"Webhook ingest", fmt.Sprintf("bare net/http, HMAC only, %d clients", concurrency), baseline.String(), "the physical limit", "—"})

	dialects := []struct{ name, url string }{{"SQLite", "sqlite:" + filepath.Join(dir, "bench.db")}}
	if postgresURL != "" {
		dialects = append(dialects, struct{ name, url string }{"PostgreSQL", postgresURL})
	}
	// What was measured is printed even when a later measure fails.
	defer func() {
		fmt.Printf("\n| measure | set-up | figure | target | met |\n|---|---|---|---|---|\n")
		for _, r := range results {
			fmt.Printf("| %s | %s | %s | %s | %s |\n", r.name, r.setup, r.figure, r.target, r.met)
		}
	}()
	for _, d := range dialects {
		fmt.Fprintf(os.Stderr, "measuring on %s…\n", d.name)
		rs, err := measureHandover(binary, dir, d.name, d.url, duration, concurrency, watchers, conversations, baseline, profiles, quick)
		results = append(results, rs...)
		if err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
	}
	return nil
}

// load is what a fixed-concurrency run measured.
type load struct {
	requests  int
	errors    int
	elapsed   time.Duration
	latencies []time.Duration
}

func (l load) perSecond() float64 { return float64(l.requests) / l.elapsed.Seconds() }

func (l load) String() string {
	return fmt.Sprintf("%.0f req/s, p50 %s, p99 %s (%d requests, %d errors)", l.perSecond(), pct(l.latencies, 50), pct(l.latencies, 99), l.requests, l.errors)
}

// drive runs fn from concurrency goroutines for d and records each call.
func drive(concurrency int, d time.Duration, fn func(worker, seq int) error) load {
	var (
		mu  sync.Mutex
		all load
		wg  sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := range concurrency {
		wg.Go(func() {
			var lat []time.Duration
			errs := 0
			for seq := 0; time.Now().Before(deadline); seq++ {
				t0 := time.Now()
				if err := fn(w, seq); err != nil {
					errs++
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all.latencies = append(all.latencies, lat...)
			all.errors += errs
			mu.Unlock()
		})
	}
	wg.Wait()
	all.elapsed = time.Since(start)
	all.requests = len(all.latencies)
	return all
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 0, IdleConnTimeout: time.Minute}, Timeout: 30 * time.Second}

// serveBare serves handler on a loopback port, for the bare servers the bench
// measures beside Handover; stop closes it.
func serveBare(handler http.HandlerFunc) (base string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: handler}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// measureBaseline is a server that only checks the HMAC and answers 200.
func measureBaseline(duration time.Duration, concurrency int) (load, error) {
	base, stop, err := serveBare(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		mac := hmac.New(sha256.New, []byte(webhookSecret))
		mac.Write(body)
		want := "sha256=" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
		if !hmac.Equal([]byte(want), []byte(r.Header.Get("X-Hub-Signature-256"))) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	if err != nil {
		return load{}, err
	}
	defer stop()
	target := base + "/handover/genesysCloudOM"
	body := webhookBody("integration", "customer", "baseline")
	return drive(concurrency, duration, func(_, _ int) error { return postWebhook(target, body) }), nil
}

func webhookBody(integrationID, customerID, id string) []byte {
	b, _ := json.Marshal(genesys.Webhook{ID: id, Type: genesys.MessageTypeText, Text: "Hello from the agent " + id, Direction: "Outbound",
		Channel: genesys.Channel{ID: integrationID, Platform: "Open", Type: "Private", MessageID: id, To: genesys.Recipient{ID: customerID},
			From: genesys.Recipient{ID: integrationID, IDType: "Opaque", Nickname: "Bench Agent"}, Time: genesys.TimestampOf(time.Now())}})
	return b
}

func postWebhook(target string, body []byte) error {
	req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(genesys.SignatureHeader, genesys.Sign(webhookSecret, body))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("webhook answered %d", resp.StatusCode)
	}
	return nil
}

// handover is one running Handover binary with the sandbox as its Genesys.
type handover struct {
	arrivals *arrivals
	sbBase   string
	cmd      *exec.Cmd
	base     string
	token    string
	genesys  *sandbox.Sandbox
	integrID string
	// sinkIntegrID is an integration whose webhooks nobody processes.
	sinkIntegrID string
	stopSB       func()
	stderrBuf    *bytes.Buffer
	pprofAddr    string // with -pprof: where the binary serves /debug/pprof
}

// cpuProfile records a CPU profile of the server for d into path; the
// returned function waits until it is written.
func (h *handover) cpuProfile(path string, d time.Duration) func() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", h.pprofAddr, max(int(d.Seconds()), 1)))
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: profile:", err)
			return
		}
		defer resp.Body.Close()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "bench: profile:", err)
			return
		}
		f, err := os.Create(path)
		if err == nil {
			_, err = io.Copy(f, resp.Body)
			err = errors.Join(err, f.Close())
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: profile:", err)
		}
	}()
	return func() { <-done }
}

func startHandover(binary, dir, databaseURL string, pprof bool) (*handover, error) {
	sbLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	sbBase := "http://" + sbLn.Addr().String()
	arr := &arrivals{waiting: map[string]chan time.Time{}, arrived: map[string]time.Time{}}
	sb, err := sandbox.New(sandbox.Config{PublicBaseURL: sbBase, RequestsPerMinute: 100_000_000, WebhookRetryDelay: 100 * time.Millisecond, OnInbound: arr.record})
	if err != nil {
		return nil, err
	}
	sbApp := fiber.New(fiber.Config{DisableStartupMessage: true})
	sb.Register(sbApp)
	go sbApp.Listener(sbLn)

	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	h := &handover{arrivals: arr, sbBase: sbBase, base: "http://" + addr, genesys: sb, stderrBuf: &bytes.Buffer{}, stopSB: func() { sb.Close(); sbApp.Shutdown() }}
	sb.AddClient(clientID, clientSecret)
	sb.AddQueue(queueID, "Bench")
	h.integrID = sb.AddIntegration(deployment, h.base+"/handover/genesysCloudOM", webhookSecret).ID
	// The calls that bypass Handover (straight to Genesys, the bare
	// forwarder) go to an integration whose webhooks a sink takes, so that
	// Handover does not process their echoes during the next measure.
	sinkLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	sink := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })}
	go sink.Serve(sinkLn)
	stopSB := h.stopSB
	h.stopSB = func() { stopSB(); sink.Close() }
	h.sinkIntegrID = sb.AddIntegration(deployment+"-sink", "http://"+sinkLn.Addr().String()+"/", webhookSecret).ID
	// Their conversations wait in a queue of their own, whose notifications
	// Handover does not subscribe to.
	sb.AddQueue(sinkQueueID, "Bench sink")

	var env []string
	if pprof {
		if h.pprofAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		env = append(env, "HANDOVER_PPROF_ADDR="+h.pprofAddr)
	}
	if h.cmd, err = launch(binary, dir, databaseURL, addr, h.stderrBuf, env...); err != nil {
		h.stopSB()
		return nil, err
	}
	endpoint := map[string]any{"name": "Bench", "host": sbBase, "deploymentName": deployment, "queueId": queueID,
		"webhookSecret": webhookSecret, "clientId": clientID, "clientSecret": clientSecret, "relayTyping": true}
	var created struct {
		URLToken string `json:"urlToken"`
	}
	if err := h.call(http.MethodPost, "/api/v1/admin/endpoints", endpoint, &created, "Bearer "+adminAPIKey); err != nil {
		h.stop()
		return nil, fmt.Errorf("create the endpoint: %w", err)
	}
	h.token = created.URLToken
	return h, nil
}

// launch runs the binary on the database, listening on addr, and waits
// until it is ready.
func launch(binary, dir, databaseURL, addr string, stderr *bytes.Buffer, env ...string) (*exec.Cmd, error) {
	cmd := exec.Command(binary)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"HANDOVER_ADDR="+addr, "HANDOVER_DATABASE_URL="+databaseURL, "HANDOVER_SANDBOX=false",
		"HANDOVER_ADMIN_PASSWORD="+adminPassword, "HANDOVER_ADMIN_API_KEY="+adminAPIKey,
		"HANDOVER_SECRET_KEY="+strings.Repeat("ab", 32), "HANDOVER_LOG_LEVEL=warn", "HANDOVER_METRICS_TOKEN="+metricsToken,
		"HANDOVER_GENESYS_REQUESTS_PER_MINUTE=100000000", "HANDOVER_POLL_INTERVAL=1h",
		// The load comes from one address at machine speed: no public-surface limits.
		"HANDOVER_LIMIT_HANDOVERS_PER_ENDPOINT=0", "HANDOVER_LIMIT_HANDOVERS_PER_ADDRESS=0", "HANDOVER_LIMIT_MESSAGES_PER_SESSION=0",
		"HANDOVER_LIMIT_STREAMS_PER_ENDPOINT=0", "HANDOVER_LIMIT_STREAMS_PER_ADDRESS=0")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd, nil
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("Handover did not start:\n%s", stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (h *handover) stop() {
	if h.cmd.Process != nil {
		h.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { h.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			h.cmd.Process.Kill()
		}
	}
	h.stopSB()
}

func (h *handover) call(method, path string, body, out any, auth string) error {
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, h.base+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// handOver starts n handovers and waits until Genesys (the sandbox) has them all.
func (h *handover) handOver(prefix string, n, concurrency int) (map[string]string, error) {
	var failed atomic.Int64
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			sid := fmt.Sprintf("%s-%05d", prefix, i)
			if err := h.call(http.MethodPost, "/"+h.token+"/handover", map[string]any{"userId": "u-" + sid, "sessionId": sid}, nil, ""); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		return nil, fmt.Errorf("%d handovers failed", failed.Load())
	}
	customers := map[string]string{} // session → customer id
	deadline := time.Now().Add(2 * time.Minute)
	for len(customers) < n {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("only %d of %d handovers reached Genesys", len(customers), n)
		}
		time.Sleep(100 * time.Millisecond)
		for _, c := range h.genesys.Conversations() {
			if sid := c.Participants[0].Attributes["sessionId"]; strings.HasPrefix(sid, prefix+"-") {
				customers[sid] = c.Customer.ID
			}
		}
	}
	return customers, nil
}

// arrivals tells waiting senders when the sandbox accepted their message,
// and counts receipts (each processed agent message is acknowledged with one).
type arrivals struct {
	mu       sync.Mutex
	waiting  map[string]chan time.Time // channel.messageId → waiter
	arrived  map[string]time.Time      // arrivals nobody waited for yet
	receipts atomic.Int64
}

func (a *arrivals) record(rec sandbox.InboundRecord) {
	now := time.Now()
	switch msg := rec.Parsed.(type) {
	case genesys.InboundMessage:
		a.mu.Lock()
		ch, ok := a.waiting[msg.Channel.MessageID]
		if ok {
			delete(a.waiting, msg.Channel.MessageID)
			ch <- now
		} else if strings.HasPrefix(msg.Channel.MessageID, "hov-msg-") || strings.HasPrefix(msg.Channel.MessageID, bareMessagePrefix) {
			a.arrived[msg.Channel.MessageID] = now
		}
		a.mu.Unlock()
	case genesys.InboundReceipt:
		a.receipts.Add(1)
	}
}

// await waits for the message's arrival, which may have come already.
func (a *arrivals) await(messageID string, timeout time.Duration) (time.Time, error) {
	a.mu.Lock()
	if at, ok := a.arrived[messageID]; ok {
		delete(a.arrived, messageID)
		a.mu.Unlock()
		return at, nil
	}
	ch := make(chan time.Time, 1)
	a.waiting[messageID] = ch
	a.mu.Unlock()
	select {
	case at := <-ch:
		return at, nil
	case <-time.After(timeout):
		return time.Time{}, fmt.Errorf("%s did not reach Genesys within %s", messageID, timeout)
	}
}

// cpu reads the processor time the Handover process has used so far (user
// and system, /proc/PID/stat, in the kernel's clock ticks of 10 ms). Its
// difference over a load, per message, is steadier than a throughput on a
// machine whose two cores the load generator and the sandbox share.
func (h *handover) cpu() time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", h.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count after it.
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(fields) < 13 {
		return 0
	}
	user, _ := strconv.ParseInt(fields[11], 10, 64)
	system, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(user+system) * 10 * time.Millisecond
}

// rss reads the resident memory of the Handover process.
func (h *handover) rss() (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", h.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(data)
	if m == nil {
		return 0, errors.New("no VmRSS")
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb * 1024, nil
}

func measureHandover(binary, dir, dialect, databaseURL string, duration time.Duration, concurrency, watchers, conversations int, baseline load, profiles string, quick bool) ([]result, error) {
	h, err := startHandover(binary, dir, databaseURL, profiles != "")
	if err != nil {
		return nil, err
	}
	profile := func(name string) func() {
		if profiles == "" {
			return func() {}
		}
		return h.cpuProfile(filepath.Join(profiles, strings.ToLower(dialect)+"-"+name+".pprof"), duration)
	}
	defer h.stop()
	var results []result

	idle, err := h.rss()
	if err != nil {
		return results, err
	}

	// 1. Webhook ingest: signed agent messages for one open handover, each
	// stored, processed and fanned out to the session's stream.
	// The agent messages go to 64 open handovers in turn, as agents answer
	// many conversations at once.
	const ingestConversations = 64
	customers, err := h.handOver("ingest", ingestConversations, ingestConversations)
	if err != nil {
		return results, err
	}
	var customerIDs []string
	for _, id := range customers {
		customerIDs = append(customerIDs, id)
	}
	customer := customerIDs[0]
	profiled := profile("ingest")
	cpuBefore := h.cpu()
	ingest := h.agentMessages(h.base+"/handover/genesysCloudOM", "bench", concurrency, duration, customerIDs)
	profiled()
	// Every accepted webhook is processed (its Delivered receipt reaches
	// Genesys) before the next measure, so the measures do not overlap.
	drained := time.Now()
	for h.arrivals.receipts.Load() < int64(ingest.requests) {
		if time.Since(drained) > 5*time.Minute {
			return results, fmt.Errorf("only %d of %d webhooks were processed", h.arrivals.receipts.Load(), ingest.requests)
		}
		time.Sleep(50 * time.Millisecond)
	}
	processing := time.Since(drained)
	ingestCPU := (h.cpu() - cpuBefore) / time.Duration(max(1, ingest.requests))
	ratio := ingest.perSecond() / baseline.perSecond()
	// The targets (docs/performance.md): PostgreSQL pays a network
	// round trip per batch that SQLite does not.
	wantRatio := 0.5
	if dialect == "PostgreSQL" {
		wantRatio = 0.25
	}
	results = append(results, result{"Webhook ingest", fmt.Sprintf("Handover on %s, %d clients, %d conversations", dialect, concurrency, ingestConversations),
		ingest.String() + fmt.Sprintf("; **ratio to baseline %.3f**; all processed and acknowledged %s after the load ended; Handover's CPU %s a webhook, its processing and receipt included", ratio, processing.Round(100*time.Millisecond), ingestCPU.Round(time.Microsecond)),
		fmt.Sprintf("ratio ≥ %.2f", wantRatio), verdict(ratio >= wantRatio)})

	if dialect == "SQLite" {
		// The same load through the least a receiver of agent messages can
		// do: what this machine allows the path, beside the row it bounds.
		bare, drain, err := h.bareReceipter(concurrency, duration, customerIDs)
		if err != nil {
			return results, err
		}
		results = append(results, result{"Webhook ingest", fmt.Sprintf("bare receipter (net/http in, HMAC and JSON, 200, then the Delivered receipt out with the Genesys client; no database), %d clients", concurrency),
			bare.String() + fmt.Sprintf("; **ratio to baseline %.3f**; all acknowledged %s after the load ended", bare.perSecond()/baseline.perSecond(), drain.Round(100*time.Millisecond)),
			"the physical limit of this path here", "—"})
	}

	// 2. Relay overhead: user message in through the bot API until the
	// request reaches Genesys.
	for _, sessions := range []int{1, 16, 256} {
		r, err := h.relayOverhead(fmt.Sprintf("relay%d", sessions), sessions, duration, func() func() { return profile(fmt.Sprintf("relay%d", sessions)) })
		if err != nil {
			return results, err
		}
		row := result{"Relay overhead", fmt.Sprintf("%s, %d concurrent sessions, Genesys budget raised to 100,000,000 requests a minute", dialect, sessions), r.String(), "—", "—"}
		switch {
		case sessions == 16 && dialect == "SQLite":
			row.target, row.met = "p99 added < 2 ms", verdict(r.addedP99 < 2*time.Millisecond)
		case sessions == 256 && dialect == "SQLite":
			row.name, row.target, row.met = "Relay throughput", "≥ 5,000 msg/s", verdict(r.perSecond >= 5000)
		}
		results = append(results, row)
		if sessions > 1 && dialect == "SQLite" {
			// The same load through the least a relay can do: what this
			// machine allows the path, beside the row it bounds.
			bare, err := h.bareRelay(sessions, duration)
			if err != nil {
				return results, err
			}
			results = append(results, result{row.name, fmt.Sprintf("bare forwarder (net/http in, the Genesys client out, no database), %d concurrent sessions", sessions),
				fmt.Sprintf("**%.0f msg/s**; bot request → Genesys p50 %s, p99 %s; **added p50 %s, p99 %s** against the straight calls above (%d messages, %d errors)",
					bare.perSecond(), pct(bare.latencies, 50), pct(bare.latencies, 99), pct(bare.latencies, 50)-pct(r.direct, 50), pct(bare.latencies, 99)-pct(r.direct, 99), bare.requests, bare.errors),
				"the physical limit of this path here", "—"})
		}
	}

	if dialect == "SQLite" {
		const burstSessions, burst = 16, 10
		b, cpu, err := h.relayBurst("burst", burstSessions, burst, duration)
		if err != nil {
			return results, err
		}
		results = append(results, result{"Relay bursts", fmt.Sprintf("%s, %d sessions each sending %d messages back to back, then waiting for them all to reach Genesys", dialect, burstSessions, burst),
			fmt.Sprintf("**%.0f msg/s**; a burst's first request → its last message at Genesys p50 %s, p99 %s (%d messages, %d errors); Handover's CPU %s a message",
				b.perSecond(), pct(b.latencies, 50), pct(b.latencies, 99), b.requests, b.errors, cpu.Round(time.Microsecond)), "—", "—"})
	}
	if quick {
		return results, nil
	}

	// 3. Live fan-out to console watchers, and 4. memory under load.
	fan, disconnect, err := h.fanOut(watchers, customer)
	if err != nil {
		return results, err
	}
	defer disconnect()
	results = append(results, result{"Live fan-out", fmt.Sprintf("%s, %d SSE watchers on the conversations stream", dialect, watchers), fan.String(), "p99 < 50 ms", verdict(fan.p99 < 50*time.Millisecond)})

	active, err := h.handOver("active", conversations, 64)
	if err != nil {
		return results, err
	}
	loaded, err := h.rss()
	if err != nil {
		return results, err
	}
	results = append(results, result{"Memory (RSS)", dialect, fmt.Sprintf("idle %s; with %d SSE watchers and %d active conversations %s", mib(idle), watchers, conversations, mib(loaded)), "< 150 MB", verdict(loaded < 150<<20)})

	// 5. What one open session event stream costs, the bot API's.
	sessions := make([]string, 0, len(active))
	for sid := range active {
		sessions = append(sessions, sid)
	}
	perStream, err := h.streamCost(sessions[:min(len(sessions), sessionStreams)])
	if err != nil {
		return results, err
	}
	results = append(results, result{"Memory per event stream", fmt.Sprintf("%s, %d bot session streams open at once", dialect, min(len(sessions), sessionStreams)),
		fmt.Sprintf("%.1f KB each live after a garbage collection (Go heap reached and stacks; %.1f KB with the heap's spans in use); RSS grew by %.1f KB each, garbage of the catch-up included",
			float64(perStream.live)/1024, float64(perStream.inUse)/1024, float64(perStream.rss)/1024), "≤ 32 KB in use", verdict(perStream.live <= 32<<10)})

	// 6. Failover, where several instances share the database: last, as it
	// kills the instance measured so far.
	if dialect == "PostgreSQL" {
		rs, err := h.failovers(binary, dir, databaseURL)
		if err != nil {
			return results, err
		}
		results = append(results, rs...)
	}
	return results, nil
}

// inFlight is how many Genesys calls the failover measure holds on the
// instance that goes: one per outbox worker.
const inFlight = 16

// failovers measures how long the Genesys calls an instance had in flight
// wait when it dies (SIGKILL: the others notice its silence) and when it is
// stopped (SIGTERM: it hands them over).
func (h *handover) failovers(binary, dir, databaseURL string) ([]result, error) {
	var results []result
	going := h.cmd
	goingBase := h.base
	var others []*exec.Cmd
	defer func() {
		for _, cmd := range others {
			cmd.Process.Signal(os.Interrupt)
			cmd.Wait()
		}
	}()
	for _, sig := range []os.Signal{os.Kill, syscall.SIGTERM} {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		var next *exec.Cmd
		// The other instance starts once the calls are held, so that it
		// holds none of them itself.
		took, err := h.failover(going, goingBase, sig, fmt.Sprintf("fail%d", len(results)), func() (err error) {
			next, err = launch(binary, dir, databaseURL, addr, &bytes.Buffer{})
			return err
		})
		if err != nil {
			if next != nil {
				next.Process.Kill()
			}
			return nil, err
		}
		name, target, limit := "Failover (SIGKILL)", "< 15 s (dead after 10 s of silence)", 15*time.Second
		if sig == syscall.SIGTERM {
			name, target, limit = "Failover (SIGTERM)", "< 3 s", 3*time.Second
		}
		results = append(results, result{name, fmt.Sprintf("PostgreSQL, two instances, %d calls in flight on the one that goes", inFlight),
			fmt.Sprintf("%s until the other had sent them all", took.Round(10*time.Millisecond)), target, verdict(took < limit)})
		if sig != os.Kill {
			others = append(others, going)
		}
		going, goingBase = next, "http://"+addr
	}
	others = append(others, going)
	return results, nil
}

// failover holds inFlight calls of the instance at base at Genesys (they
// arrive; their answers do not), starts another instance, ends the first
// with sig, and times until the other has sent each of them again.
func (h *handover) failover(cmd *exec.Cmd, base string, sig os.Signal, prefix string, startOther func() error) (time.Duration, error) {
	messages := func() (all, repeats int) {
		for _, rec := range h.genesys.Inbound() {
			if rec.Kind == sandbox.KindMessage {
				all++
				if rec.Duplicate {
					repeats++
				}
			}
		}
		return all, repeats
	}
	before, repeatsBefore := messages()
	h.genesys.SetFault(sandbox.Fault{SlowAnswer: 10 * time.Minute, Count: inFlight, PathContains: "/inbound/open/message"})
	for i := range inFlight {
		sid := fmt.Sprintf("%s-%02d", prefix, i)
		body, _ := json.Marshal(map[string]any{"userId": "u-" + sid, "sessionId": sid})
		resp, err := client.Post(base+"/"+h.token+"/handover", "application/json", bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return 0, fmt.Errorf("handover %s: %d", sid, resp.StatusCode)
		}
	}
	if err := waitUntil(time.Minute, func() bool { all, _ := messages(); return all >= before+inFlight }); err != nil {
		return 0, fmt.Errorf("the calls to hold never reached Genesys: %w", err)
	}
	if err := startOther(); err != nil {
		return 0, err
	}
	if err := cmd.Process.Signal(sig); err != nil {
		return 0, err
	}
	gone := time.Now()
	if err := waitUntil(time.Minute, func() bool { _, repeats := messages(); return repeats >= repeatsBefore+inFlight }); err != nil {
		return 0, fmt.Errorf("the calls in flight were not sent again: %w", err)
	}
	took := time.Since(gone)
	cmd.Wait()
	return took, nil
}

// waitUntil polls cond until it holds or the time is up.
func waitUntil(limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// sessionStreams is how many bot session streams the memory measure opens.
const sessionStreams = 1000

// idleWorkersRetire is fasthttp's default MaxIdleWorkerDuration and a margin.
const idleWorkersRetire = 12 * time.Second

// streamBytes is what streams cost each: live after a garbage collection
// (the heap the collector reached, and stacks), in use then (the heap's
// spans, which count objects not yet swept), and as RSS growth (which
// counts the garbage of opening them).
type streamBytes struct{ live, inUse, rss int64 }

// streamCost opens one event stream per session, waits until each has
// delivered its first event (the handover's queued state, from its
// catch-up), and divides the growth of the process's memory by their number.
func (h *handover) streamCost(sessions []string) (streamBytes, error) {
	// The measure is a difference of what is in use: the work the earlier
	// steps left (calls queued, webhooks Genesys still sends) must be done
	// first, or its memory counts as the streams'.
	if err := h.awaitQuiet(2 * time.Minute); err != nil {
		return streamBytes{}, fmt.Errorf("the work of the earlier steps did not end: %w", err)
	}
	before, err := h.rss()
	if err != nil {
		return streamBytes{}, err
	}
	memBefore, err := h.afterGC()
	if err != nil {
		return streamBytes{}, err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: len(sessions) + 16, MaxConnsPerHost: 0}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	live := make(chan error, len(sessions))
	for _, sid := range sessions {
		go func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.base+"/"+h.token+"/sessions/"+sid+"/events", nil)
			resp, err := client.Do(req)
			if err != nil {
				live <- err
				return
			}
			defer resp.Body.Close()
			scanner := bufio.NewScanner(resp.Body)
			for scanner.Scan() {
				if strings.HasPrefix(scanner.Text(), "event: ") {
					live <- nil
					break
				}
			}
			<-ctx.Done() // hold the stream open until measured
		}()
	}
	timeout := time.After(time.Minute)
	for range sessions {
		select {
		case err := <-live:
			if err != nil {
				return streamBytes{}, err
			}
		case <-timeout:
			return streamBytes{}, errors.New("not every session stream delivered its first event within a minute")
		}
	}
	// The goroutines that served the requests before each stream took its
	// connection over wait in fasthttp's worker pool, with the stacks they
	// grew, until they have been idle for its MaxIdleWorkerDuration (10 s):
	// measure the streams once those have gone, as they stay while the
	// streams last minutes.
	time.Sleep(idleWorkersRetire)
	after, err := h.rss()
	if err != nil {
		return streamBytes{}, err
	}
	memAfter, err := h.afterGC()
	if err != nil {
		return streamBytes{}, err
	}
	n := int64(len(sessions))
	return streamBytes{live: (memAfter.live - memBefore.live) / n, inUse: (memAfter.inUse - memBefore.inUse) / n, rss: (after - before) / n}, nil
}

// awaitQuiet waits until Handover has no Genesys call queued and made no
// call and took no webhook for half a second.
func (h *handover) awaitQuiet(limit time.Duration) error {
	var last map[string]float64
	return waitUntil(limit, func() bool {
		m, err := h.goMemory()
		if err != nil {
			return false
		}
		quiet := last != nil && m["handover_outbox_backlog"] == 0 &&
			m["handover_genesys_requests_total"] == last["handover_genesys_requests_total"] && m["handover_webhooks_total"] == last["handover_webhooks_total"]
		last = m
		if !quiet {
			time.Sleep(500 * time.Millisecond)
		}
		return quiet
	})
}

// goBytes is the server's Go memory right after a garbage collection: live
// is the heap that collection reached plus stacks, inUse the heap's spans in
// use plus stacks.
type goBytes struct{ live, inUse int64 }

// afterGC reads the server's Go memory right after its next garbage
// collection: it scrapes /metrics (each scrape allocates) until the
// collection count moves, and reads the gauges of that scrape.
func (h *handover) afterGC() (goBytes, error) {
	first, err := h.goMemory()
	if err != nil {
		return goBytes{}, err
	}
	for range 20000 {
		m, err := h.goMemory()
		if err != nil {
			return goBytes{}, err
		}
		if m["go_gc_duration_seconds_count"] > first["go_gc_duration_seconds_count"] {
			stacks := m["go_memstats_stack_inuse_bytes"]
			return goBytes{live: int64(m["go_gc_heap_live_bytes"] + stacks), inUse: int64(m["go_memstats_heap_inuse_bytes"] + stacks)}, nil
		}
	}
	return goBytes{}, errors.New("no garbage collection in 20,000 scrapes of /metrics")
}

// goMemory reads the Go runtime's gauges from /metrics.
func (h *handover) goMemory() (map[string]float64, error) {
	req, _ := http.NewRequest(http.MethodGet, h.base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+metricsToken)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	scanner := bufio.NewScanner(resp.Body)
	for scanner.Scan() {
		name, value, ok := strings.Cut(scanner.Text(), " ")
		name, _, _ = strings.Cut(name, "{") // series of one name add up
		switch name {
		case "go_gc_duration_seconds_count", "go_gc_heap_live_bytes", "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes",
			"handover_outbox_backlog", "handover_genesys_requests_total", "handover_webhooks_total":
			if ok {
				f, _ := strconv.ParseFloat(value, 64)
				out[name] += f
			}
		}
	}
	if resp.StatusCode != http.StatusOK || len(out) < 3 {
		return nil, fmt.Errorf("/metrics answered %d without the Go memory gauges", resp.StatusCode)
	}
	return out, nil
}

// relayOverhead measures the relay's pipeline: each of sessions concurrent
// sessions sends a message through the bot API and waits until it reached
// Genesys (the sandbox) before sending the next. Beside it, the same calls
// made straight to the sandbox with the Genesys client are the floor: what
// Handover adds is the difference.
func (h *handover) relayOverhead(prefix string, sessions int, duration time.Duration, profile func() func()) (relayFigures, error) {
	if _, err := h.handOver(prefix, sessions, min(sessions, 64)); err != nil {
		return relayFigures{}, err
	}
	profiled := profile()
	cpuBefore := h.cpu()
	var mu sync.Mutex
	var sends []time.Duration
	l := drive(sessions, duration, func(worker, seq int) error {
		sid := fmt.Sprintf("%s-%05d", prefix, worker)
		t0 := time.Now()
		// The id is known only from the answer; an arrival before it is kept.
		id, err := h.userMessage(sid, fmt.Sprintf("message %d", seq))
		if err != nil {
			return err
		}
		arrived, err := h.arrivals.await("hov-msg-"+strconv.FormatInt(id, 10), 30*time.Second)
		if err != nil {
			return err
		}
		mu.Lock()
		sends = append(sends, arrived.Sub(t0))
		mu.Unlock()
		return nil
	})
	cpuUsed := h.cpu() - cpuBefore
	profiled()
	direct, err := h.directCalls(sessions, duration)
	if err != nil {
		return relayFigures{}, err
	}
	return relayFigures{perSecond: l.perSecond(), sends: sends, direct: direct.latencies, directPerSecond: direct.perSecond(),
		addedP99: pct(sends, 99) - pct(direct.latencies, 99), cpuPerMessage: cpuUsed / time.Duration(max(1, len(sends)))}, nil
}

// userMessage posts text as the user of session sid to the bot API and
// returns the id Handover gave the message.
func (h *handover) userMessage(sid, text string) (int64, error) {
	var out struct {
		MessageID int64 `json:"messageId"`
	}
	raw, _ := json.Marshal(map[string]any{"userId": "u-" + sid, "sessionId": sid, "text": text})
	resp, err := client.Post(h.base+"/"+h.token, "application/json", bytes.NewReader(raw))
	if err != nil {
		return 0, err
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(data, &out) != nil {
		return 0, fmt.Errorf("message: %d %s", resp.StatusCode, data)
	}
	return out.MessageID, nil
}

// relayBurst is relayOverhead with each session sending burst messages back
// to back (each once Handover has accepted the one before, as a bot sends
// several bubbles of one answer) before it waits for them all to reach
// Genesys: a conversation's calls then queue behind each other, which the
// closed loop of relayOverhead never makes them do.
func (h *handover) relayBurst(prefix string, sessions, burst int, duration time.Duration) (load, time.Duration, error) {
	if _, err := h.handOver(prefix, sessions, min(sessions, 64)); err != nil {
		return load{}, 0, err
	}
	cpuBefore := h.cpu()
	l := drive(sessions, duration, func(worker, seq int) error {
		sid := fmt.Sprintf("%s-%05d", prefix, worker)
		ids := make([]int64, 0, burst)
		for i := range burst {
			id, err := h.userMessage(sid, fmt.Sprintf("burst %d part %d", seq, i))
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		for _, id := range ids {
			if _, err := h.arrivals.await("hov-msg-"+strconv.FormatInt(id, 10), 30*time.Second); err != nil {
				return err
			}
		}
		return nil
	})
	l.requests *= burst
	return l, (h.cpu() - cpuBefore) / time.Duration(max(1, l.requests)), nil
}

// sinkQueue routes a conversation to the sink queue (the sandbox reads the
// queueId custom attribute).
var sinkQueue = &genesys.ChannelMetadata{CustomAttributes: map[string]string{"queueId": sinkQueueID}}

// bareMessagePrefix names the messages of the bare forwarder.
const bareMessagePrefix = "bare-msg-"

// bareRelay drives, as relayOverhead drives Handover, a forwarder that does
// the least a relay can: it takes the bot's message over HTTP and sends it
// to Genesys with the same client before answering, with no database, no
// queue and no ordering. Its throughput is what this machine allows the
// path (the load generator, the forwarder and the sandbox share the cores
// as with Handover), the ceiling for Handover's.
func (h *handover) bareRelay(sessions int, duration time.Duration) (load, error) {
	c, err := h.sandboxClient()
	if err != nil {
		return load{}, err
	}
	var ids atomic.Int64
	base, stop, err := serveBare(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ SessionID, Text string }
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id := ids.Add(1)
		_, err := c.SendMessage(r.Context(), h.sinkIntegrID, genesys.InboundMessage{Text: in.Text, Channel: genesys.InboundChannel{
			MessageID: bareMessagePrefix + strconv.FormatInt(id, 10), From: genesys.Recipient{ID: "bare-" + in.SessionID, IDType: genesys.IDTypeOpaque},
			Time: genesys.TimestampOf(time.Now()), Metadata: sinkQueue}}, false)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"messageId":%d}`, id)
	})
	if err != nil {
		return load{}, err
	}
	defer stop()
	target := base + "/"
	l := drive(sessions, duration, func(worker, seq int) error {
		raw, _ := json.Marshal(map[string]any{"sessionId": fmt.Sprintf("s%05d", worker), "text": fmt.Sprintf("message %d", seq)})
		resp, err := client.Post(target, "application/json", bytes.NewReader(raw))
		if err != nil {
			return err
		}
		var out struct {
			MessageID int64 `json:"messageId"`
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted || json.Unmarshal(data, &out) != nil {
			return fmt.Errorf("bare forwarder: %d %s", resp.StatusCode, data)
		}
		// Sent before the answer: the arrival is already recorded.
		_, err = h.arrivals.await(bareMessagePrefix+strconv.FormatInt(out.MessageID, 10), 30*time.Second)
		return err
	})
	return l, nil
}

// bareReceipter drives, as the ingest measure drives Handover, a receiver
// that does the least any receiver of Genesys agent messages can: check the
// signature, decode the webhook, answer 200, then acknowledge the message to
// Genesys with a Delivered receipt, with the same client Handover uses, and
// no database, queue or ordering. The baseline does the check and the answer;
// the receipt is a second HTTP exchange per webhook on the same cores, so
// this server's ratio to the baseline is the ceiling for Handover's here.
// It returns the load and how long the receipts took to drain after it.
func (h *handover) bareReceipter(concurrency int, duration time.Duration, customerIDs []string) (load, time.Duration, error) {
	c, err := h.sandboxClient()
	if err != nil {
		return load{}, 0, err
	}
	var sent, failed atomic.Int64
	base, stop, err := serveBare(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if genesys.VerifySignature(webhookSecret, body, r.Header.Get(genesys.SignatureHeader)) != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var hook genesys.Webhook
		if err := json.Unmarshal(body, &hook); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
		// After the answer, as Handover sends its receipts.
		go func() {
			_, err := c.SendReceipt(context.Background(), h.sinkIntegrID, genesys.InboundReceipt{ID: hook.ID,
				Channel: genesys.ReceiptChannel{To: genesys.Recipient{ID: hook.Channel.To.ID, IDType: genesys.IDTypeOpaque}, Time: genesys.TimestampOf(time.Now())},
				Status:  genesys.ReceiptDelivered, IsFinalReceipt: true})
			if err != nil {
				failed.Add(1)
			}
			sent.Add(1)
		}()
	})
	if err != nil {
		return load{}, 0, err
	}
	defer stop()
	l := h.agentMessages(base+"/handover/genesysCloudOM", "bare", concurrency, duration, customerIDs)
	ended := time.Now()
	if err := waitUntil(5*time.Minute, func() bool { return sent.Load() >= int64(l.requests) }); err != nil {
		return l, 0, fmt.Errorf("bare receipter: only %d of %d receipts sent", sent.Load(), l.requests)
	}
	if n := failed.Load(); n > 0 {
		return l, 0, fmt.Errorf("bare receipter: %d receipts failed", n)
	}
	return l, time.Since(ended), nil
}

// agentMessages drives the ingest load at target: signed agent messages from
// concurrency clients for d, to the customers in turn, with ids prefix-N.
func (h *handover) agentMessages(target, prefix string, concurrency int, d time.Duration, customerIDs []string) load {
	var seq atomic.Int64
	return drive(concurrency, d, func(_, _ int) error {
		n := seq.Add(1)
		return postWebhook(target, webhookBody(h.integrID, customerIDs[int(n)%len(customerIDs)], fmt.Sprintf("%s-%d", prefix, n)))
	})
}

// sandboxClient is a Genesys client of the sandbox, as Handover has, for
// the bare servers and the straight calls.
func (h *handover) sandboxClient() (*genesys.Client, error) {
	return genesys.NewClient(genesys.Config{Host: genesys.Host(h.sbBase), ClientID: clientID, ClientSecret: clientSecret})
}

// relayFigures is what relayOverhead measured.
type relayFigures struct {
	perSecond, directPerSecond float64
	sends, direct              []time.Duration
	addedP99                   time.Duration
	cpuPerMessage              time.Duration // Handover's processor time
}

func (r relayFigures) String() string {
	return fmt.Sprintf("**%.0f msg/s** (straight to Genesys %.0f/s); bot request → Genesys p50 %s, p99 %s; straight to Genesys p50 %s, p99 %s; **added p50 %s, p99 %s** (%d messages); Handover's CPU %s a message",
		r.perSecond, r.directPerSecond, pct(r.sends, 50), pct(r.sends, 99), pct(r.direct, 50), pct(r.direct, 99),
		pct(r.sends, 50)-pct(r.direct, 50), r.addedP99, len(r.sends), r.cpuPerMessage.Round(time.Microsecond))
}

// directCalls sends inbound messages straight to the sandbox with the Genesys
// client: the latency floor of one Genesys call on this machine.
func (h *handover) directCalls(concurrency int, duration time.Duration) (load, error) {
	c, err := h.sandboxClient()
	if err != nil {
		return load{}, err
	}
	l := drive(concurrency, duration, func(worker, seq int) error {
		_, err := c.SendMessage(context.Background(), h.sinkIntegrID, genesys.InboundMessage{Text: "direct",
			Channel: genesys.InboundChannel{MessageID: fmt.Sprintf("direct-%d-%d", worker, seq), From: genesys.Recipient{ID: fmt.Sprintf("direct-%d", worker), IDType: genesys.IDTypeOpaque},
				Time: genesys.TimestampOf(time.Now()), Metadata: sinkQueue}}, false)
		return err
	})
	return l, nil
}

// fanOut connects watchers to the console's conversations stream and times
// each webhook from its 200 until the last watcher has the event.
// The watchers stay connected until the returned function is called.
func (h *handover) fanOut(watchers int, customer string) (fanFigures, func(), error) {
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Transport: &http.Transport{MaxIdleConnsPerHost: watchers + 16}}
	resp, err := browser.Get(h.base + "/login")
	if err != nil {
		return fanFigures{}, nil, err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="_csrf" value="([0-9a-f]+)"`).FindSubmatch(page)
	if m == nil {
		return fanFigures{}, nil, errors.New("no CSRF token on /login")
	}
	resp, err = browser.PostForm(h.base+"/login", url.Values{"username": {"admin"}, "password": {adminPassword}, "_csrf": {string(m[1])}})
	if err != nil {
		return fanFigures{}, nil, err
	}
	resp.Body.Close()

	ctx, cancel := context.WithCancel(context.Background())
	ok := false
	defer func() {
		if !ok {
			cancel()
		}
	}()
	received := make(chan time.Time, watchers*64)
	var connected sync.WaitGroup
	for range watchers {
		connected.Add(1)
		go func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.base+"/console/events?topics=conversations", nil)
			resp, err := browser.Do(req)
			connected.Done()
			if err != nil {
				return
			}
			defer resp.Body.Close()
			scanner := bufio.NewScanner(resp.Body)
			for scanner.Scan() {
				if scanner.Text() == "event: conversations" {
					received <- time.Now()
				}
			}
		}()
	}
	connected.Wait()
	time.Sleep(500 * time.Millisecond)

	var worst []time.Duration
	target := h.base + "/handover/genesysCloudOM"
	for i := range 20 {
		for len(received) > 0 {
			<-received
		}
		body := webhookBody(h.integrID, customer, fmt.Sprintf("fanout-%d", i))
		if err := postWebhook(target, body); err != nil {
			return fanFigures{}, nil, err
		}
		accepted := time.Now()
		var last time.Duration
		timeout := time.After(5 * time.Second)
		for got := 0; got < watchers; got++ {
			select {
			case at := <-received:
				last = max(last, at.Sub(accepted))
			case <-timeout:
				return fanFigures{}, nil, fmt.Errorf("only %d of %d watchers got the event", got, watchers)
			}
		}
		worst = append(worst, last)
		time.Sleep(300 * time.Millisecond) // past the stream's coalescing period
	}
	ok = true
	return fanFigures{watchers: watchers, worst: worst, p99: pct(worst, 99)}, cancel, nil
}

// fanFigures is what fanOut measured: per webhook, the time until the last
// watcher had it.
type fanFigures struct {
	watchers int
	worst    []time.Duration
	p99      time.Duration
}

func (f fanFigures) String() string {
	return fmt.Sprintf("webhook accepted → last of %d watchers: p50 %s, **p99 %s**", f.watchers, pct(f.worst, 50), f.p99)
}

func pct(values []time.Duration, p int) time.Duration {
	if len(values) == 0 {
		return 0
	}
	s := slices.Clone(values)
	slices.Sort(s)
	i := (p*len(s)+99)/100 - 1
	return s[max(i, 0)].Round(10 * time.Microsecond)
}

func mib(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
