package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/app"
	"github.com/handover-relay/handover/config"
	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/genesys/sandbox"
	"github.com/handover-relay/handover/internal/testkit"
	"github.com/handover-relay/handover/logging"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

// The end-to-end tests run Handover's real wiring (newServer) over loopback
// HTTP against the Genesys sandbox running as a separate server, as Genesys
// would be, so that it outlives Handover restarts.

const (
	e2eQueueID    = "3b9e2f10-6c1d-4a7e-9f02-5d8c7b6a4e31"
	e2eClientID   = "e2e-client"
	e2eDeployment = "bot-relay-e2e"
)

type genesysFake struct {
	*sandbox.Sandbox
	base string
}

// startSandbox runs the sandbox on its own loopback port.
func startSandbox(t *testing.T, tune func(*sandbox.Config)) *genesysFake {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	// As real Genesys: webhooks name the integration, not the agent, and the
	// customer's messages get a sequence of receipts (docs/genesys.md §RealGenesys).
	cfg := sandbox.Config{PublicBaseURL: base, WebhookRetryDelay: 20 * time.Millisecond, RequestsPerMinute: 1_000_000, HeartbeatInterval: 200 * time.Millisecond,
		NicknameIsIntegrationName: true, ReceiptSequence: []string{genesys.ReceiptSent, genesys.ReceiptDelivered}}
	if tune != nil {
		tune(&cfg)
	}
	sb, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	sb.Register(app)
	go app.Listener(ln)
	t.Cleanup(func() {
		sb.Close()
		app.ShutdownWithTimeout(time.Second)
	})
	return &genesysFake{Sandbox: sb, base: base}
}

// instance is one running Handover.
type instance struct {
	t    *testing.T
	srv  *app.App
	base string
	logs *testkit.SyncBuffer
	stop func() error
}

// deployment is the test's endpoint and the sandbox side of it.
type deployment struct {
	t        *testing.T
	genesys  *genesysFake
	dialect  store.Dialect
	dbURL    string
	addr     string
	endpoint store.Endpoint
	secret   string
	tune     func(*relay.Config, *sandbox.Config)
	now      func() time.Time  // the store's clock for every start; the real one when nil
	env      map[string]string // extra environment for every start
}

// noLimits turns every public-surface limit off (docs/security.md), for
// suites that send at test speed from one address.
var noLimits = map[string]string{
	"HANDOVER_LIMIT_HANDOVERS_PER_ENDPOINT": "0", "HANDOVER_LIMIT_HANDOVERS_PER_ADDRESS": "0", "HANDOVER_LIMIT_MESSAGES_PER_SESSION": "0",
	"HANDOVER_LIMIT_STREAMS_PER_ENDPOINT": "0", "HANDOVER_LIMIT_STREAMS_PER_ADDRESS": "0", "HANDOVER_LIMIT_DEMO_SESSIONS_PER_ADDRESS": "0",
}

// e2eSecretKey seals secrets on Postgres, where there is no key file; every
// instance of a deployment shares it.
const e2eSecretKey = "0707070707070707070707070707070707070707070707070707070707070707"

// newDeployment makes a SQLite database with one endpoint handing over to
// the sandbox, and the sandbox's client, queue and integration for it.
func newDeployment(t *testing.T, g *genesysFake) *deployment {
	t.Helper()
	return newDeploymentOn(t, g, store.SQLite)
}

// newDeploymentOn is newDeployment on a fresh database of the dialect (a
// Postgres database of its own; skipped without HANDOVER_TEST_POSTGRES_URL).
func newDeploymentOn(t *testing.T, g *genesysFake, dialect store.Dialect) *deployment {
	t.Helper()
	d := &deployment{t: t, genesys: g, dialect: dialect, dbURL: storetest.DatabaseURL(t, dialect), addr: testkit.FreeAddr(t), secret: "e2e-webhook-secret-0123456789"}
	clientSecret := "e2e-client-secret"
	g.AddClient(e2eClientID, clientSecret)
	g.AddQueue(e2eQueueID, "Support")
	g.AddIntegration(e2eDeployment, "http://"+d.addr+"/handover/genesysCloudOM", d.secret)

	inst := d.start()
	ctx := context.Background()
	d.endpoint = store.Endpoint{
		OrganisationID: 1, Name: "E2E", URLToken: secret.NewToken(32), Provider: store.ProviderGenesysCloudOM,
		Host: g.base, DeploymentName: e2eDeployment, QueueID: e2eQueueID, ClientID: e2eClientID, ClientSecret: clientSecret,
		WebhookSecret: d.secret, SendProfile: true, DefaultLanguage: "english", DefaultSkills: []string{"support"},
		DefaultPriority: 2, DefaultCustomAttributes: map[string]string{"tier": "gold"}, RelayTyping: true,
	}
	if err := inst.srv.Store.CreateEndpoint(ctx, &d.endpoint); err != nil {
		t.Fatal(err)
	}
	inst.stopOrFail()
	return d
}

// start runs Handover on the deployment's database and address.
func (d *deployment) start() *instance {
	d.t.Helper()
	return d.startAt(d.addr)
}

// startAt runs another instance of Handover on the deployment's database,
// listening on addr (several may run at once on Postgres).
func (d *deployment) startAt(addr string) *instance {
	d.t.Helper()
	env := map[string]string{
		"HANDOVER_ADDR": addr, "HANDOVER_DATABASE_URL": d.dbURL, "HANDOVER_SANDBOX": "false",
		"HANDOVER_ADMIN_PASSWORD": "e2e-password", "HANDOVER_LOG_LEVEL": "debug",
	}
	if d.dialect == store.Postgres {
		env["HANDOVER_SECRET_KEY"] = e2eSecretKey
	}
	// The relay suites drive many sessions from one address at test speed;
	// the limits have suites of their own (limits_e2e_test.go).
	maps.Copy(env, noLimits)
	maps.Copy(env, d.env)
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		d.t.Fatal(err)
	}
	logs := &testkit.SyncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if cfg.LogFormat == "json" {
		// The production handler: request and conversation ids from the context.
		if logger, err = logging.New(logs, cfg.LogFormat, cfg.LogLevel); err != nil {
			d.t.Fatal(err)
		}
	}
	tune := func(rc *relay.Config, sc *sandbox.Config) {
		rc.RetryBase, rc.RetryMax, rc.PollInterval, rc.RequestsPerMinute = 20*time.Millisecond, 200*time.Millisecond, 100*time.Millisecond, 1_000_000
		if d.tune != nil {
			d.tune(rc, sc)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := app.New(ctx, cfg, logger, &app.Tuning{Timings: tune, Now: d.now})
	if err != nil {
		cancel()
		d.t.Fatalf("start: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	var once sync.Once
	var stopErr error
	inst := &instance{t: d.t, srv: srv, base: "http://" + addr, logs: logs}
	inst.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(20 * time.Second):
				stopErr = fmt.Errorf("no shutdown within 20 s")
			}
		})
		return stopErr
	}
	d.t.Cleanup(func() { inst.stop() })
	testkit.WaitFor(d.t, 5*time.Second, "Handover ready", func() bool {
		resp, err := http.Get(inst.base + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	return inst
}

func (i *instance) stopOrFail() {
	i.t.Helper()
	if err := i.stop(); err != nil {
		i.t.Fatalf("stop: %v", err)
	}
}

// post sends JSON to the bot API and decodes the JSON answer.
func (i *instance) post(path string, body any) (int, map[string]any) {
	i.t.Helper()
	raw, _ := json.Marshal(body)
	resp, err := http.Post(i.base+path, "application/json", bytes.NewReader(raw))
	if err != nil {
		i.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	if len(data) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			i.t.Fatalf("POST %s: answer is not JSON: %s", path, data)
		}
	}
	return resp.StatusCode, out
}

// startServer starts Handover as main does, from env, until the returned
// stop is called.
func startServer(t *testing.T, env map[string]string) (logs *testkit.SyncBuffer, stop func() error) {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	logs = &testkit.SyncBuffer{}
	logger, err := logging.New(logs, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		t.Fatal(err)
	}
	stop = testkit.Serve(t, "http://"+cfg.Addr, logs, app.ShutdownGrace, func(ctx context.Context) error {
		a, err := app.New(ctx, cfg, logger, nil)
		if err != nil {
			return err
		}
		return a.Serve(ctx)
	})
	return logs, stop
}

// startLogged waits until logs hold the start's last line and returns them:
// the server answers requests before it has logged its start.
func startLogged(t *testing.T, logs *testkit.SyncBuffer) string {
	t.Helper()
	testkit.WaitFor(t, 10*time.Second, "the start's last log line", func() bool { return strings.Contains(logs.String(), "Handover is running") })
	return logs.String()
}

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	ID    string
	Event string
	Data  map[string]any
}

// events follows a session's event stream as an EventSource does: when the
// server ends a response (no handover for the session yet, or the stream's
// lifetime), it connects again with the last event id it saw.
func (i *instance) events(token, sessionID, lastEventID string) <-chan sseEvent {
	i.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	i.t.Cleanup(cancel)
	out := make(chan sseEvent, 1024)
	first := make(chan error, 1)
	go func() {
		defer close(out)
		reconnect := time.NewTicker(20 * time.Millisecond) // paces reconnects; an EventSource waits for retry:
		defer reconnect.Stop()
		var once sync.Once
		connected := func(err error) { once.Do(func() { first <- err }) }
		for ctx.Err() == nil {
			connected(i.readEvents(ctx, token, sessionID, &lastEventID, out, connected))
			select {
			case <-ctx.Done():
			case <-reconnect.C:
			}
		}
	}()
	if err := <-first; err != nil && ctx.Err() == nil {
		i.t.Fatalf("event stream: %v", err)
	}
	return out
}

// readEvents reads one response of the event stream into out, telling
// connected once the answer's status is known.
func (i *instance) readEvents(ctx context.Context, token, sessionID string, lastEventID *string, out chan<- sseEvent, connected func(error)) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, i.base+"/"+token+"/sessions/"+sessionID+"/events", nil)
	if *lastEventID != "" {
		req.Header.Set("Last-Event-ID", *lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return fmt.Errorf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	connected(nil)
	scanner := bufio.NewScanner(resp.Body)
	var ev sseEvent
	for scanner.Scan() {
		line := scanner.Text()
		switch {
		case line == "":
			if ev.Event != "" {
				if ev.ID != "" {
					*lastEventID = ev.ID
				}
				out <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			ev.ID = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			ev.Event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.Data)
		}
	}
	return nil
}

// next waits for the next event of one of the kinds, skipping others.
func next(t *testing.T, events <-chan sseEvent, kinds ...string) sseEvent {
	t.Helper()
	return nextWithin(t, 5*time.Second, events, kinds...)
}

// nextWithin is next with another bound, for a stream behind a backlog.
func nextWithin(t *testing.T, bound time.Duration, events <-chan sseEvent, kinds ...string) sseEvent {
	t.Helper()
	timeout := time.After(bound)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("event stream closed while waiting for %v", kinds)
			}
			for _, k := range kinds {
				if ev.Event == k {
					return ev
				}
			}
		case <-timeout:
			t.Fatalf("no %v event within %s", kinds, bound)
		}
	}
}

// sandboxConversation waits until the sandbox has the session's conversation.
func (d *deployment) sandboxConversation(inst *instance, sessionID string) sandbox.Conversation {
	d.t.Helper()
	var conv store.Conversation
	// A generous bound: under -race on a small machine, the 200-session test
	// queues hundreds of calls before this session's first one.
	testkit.WaitFor(d.t, 30*time.Second, "the Genesys conversation id", func() bool {
		c, err := inst.srv.Store.LatestConversation(context.Background(), d.endpoint.ID, sessionID)
		conv = c
		return err == nil && c.GenesysConversationID != ""
	})
	sc, ok := d.genesys.Conversation(conv.GenesysConversationID)
	if !ok {
		d.t.Fatalf("the sandbox does not know conversation %s", conv.GenesysConversationID)
	}
	return sc
}

func customerTexts(c sandbox.Conversation) []string {
	var out []string
	for _, m := range c.Messages {
		if m.Direction == genesys.DirectionInbound {
			out = append(out, m.Text)
		}
	}
	return out
}
