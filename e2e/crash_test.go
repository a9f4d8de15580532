package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/genesys/sandbox"
	"github.com/handover-relay/handover/internal/testkit"
	"github.com/handover-relay/handover/store"
)

// The crash test runs the real binary, kills it with SIGKILL while user
// messages and agent webhooks stream in, starts it again on the same
// database and port, and checks the promise of the README: whatever got a
// 2xx answer is stored and delivered exactly once.

// buildBinary compiles Handover into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "handover")
	build := exec.Command("go", "build", "-o", bin, "github.com/handover-relay/handover")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is one run of the binary.
type process struct {
	cmd  *exec.Cmd
	out  *testkit.SyncBuffer
	done chan error
}

// startBinary runs the binary with env and waits until /readyz answers.
func startBinary(t *testing.T, bin string, env []string, base string) *process {
	t.Helper()
	return startBinaryWith(t, []string{bin}, env, base)
}

// startBinaryWith is startBinary for a command line that runs the binary
// (through a shell that sets its limits, say).
func startBinaryWith(t *testing.T, argv []string, env []string, base string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(argv[0], argv[1:]...), out: &testkit.SyncBuffer{}, done: make(chan error, 1)}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	ready := false
	defer func() {
		if !ready { // it exited, or waitFor gave up: show why
			t.Logf("handover output:\n%s", p.out)
		}
	}()
	testkit.WaitReady(t, 20*time.Second, base, p.done)
	ready = true
	return p
}

// stop ends the process with sig and waits for it.
func (p *process) stop(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("handover did not stop on %v\n%s", sig, p.out)
	}
}

// binaryEnv is the environment of the binary: nothing inherited but PATH and
// HOME, so a developer's HANDOVER_* variables cannot change the test.
func binaryEnv(vars map[string]string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// adminCreateEndpoint creates an endpoint through the admin API and returns its URL token.
func adminCreateEndpoint(t *testing.T, base, apiKey string, fields map[string]any) string {
	t.Helper()
	body, _ := json.Marshal(fields)
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/admin/endpoints", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var e struct {
		URLToken string `json:"urlToken"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(data, &e) != nil || e.URLToken == "" {
		t.Fatalf("create endpoint: %d %s", resp.StatusCode, data)
	}
	return e.URLToken
}

// trafficClient sends the stream: bot-API user messages and signed agent
// webhooks, and remembers what was accepted.
type trafficClient struct {
	base, token, secret, integrationID string
	http                               *http.Client

	mu            sync.Mutex
	accepted      map[int64]string     // message id → "session seq" of a 202
	acceptedHooks map[string]string    // webhook id → session, of a 200
	customers     map[string]string    // session → Genesys customer id (channel.to.id)
	refused       map[string]int       // what was not accepted, by reason
	latencies     map[string][]float64 // milliseconds, by kind
}

func newTrafficClient(base, token, secret, integrationID string, customers map[string]string) *trafficClient {
	return &trafficClient{base: base, token: token, secret: secret, integrationID: integrationID, customers: customers,
		http:     &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}},
		accepted: map[int64]string{}, acceptedHooks: map[string]string{}, refused: map[string]int{}, latencies: map[string][]float64{}}
}

func (c *trafficClient) refuse(reason string) {
	c.mu.Lock()
	c.refused[reason]++
	c.mu.Unlock()
}

func (c *trafficClient) took(kind string, start time.Time) {
	c.mu.Lock()
	c.latencies[kind] = append(c.latencies[kind], float64(time.Since(start).Microseconds())/1000)
	c.mu.Unlock()
}

// userMessage sends one user message; true when it was accepted (202).
func (c *trafficClient) userMessage(session string, seq int) bool {
	body, _ := json.Marshal(map[string]any{"userId": "u-" + session, "sessionId": session, "text": fmt.Sprintf("%s user %05d", session, seq)})
	start := time.Now()
	resp, err := c.http.Post(c.base+"/"+c.token, "application/json", bytes.NewReader(body))
	if err != nil {
		c.refuse("user message: no answer")
		return false
	}
	defer resp.Body.Close()
	var out struct {
		MessageID int64 `json:"messageId"`
	}
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(data, &out) != nil || out.MessageID == 0 {
		c.refuse(fmt.Sprintf("user message: %d", resp.StatusCode))
		return false
	}
	c.took("user message", start)
	c.mu.Lock()
	c.accepted[out.MessageID] = fmt.Sprintf("%s %05d", session, seq)
	c.mu.Unlock()
	return true
}

// agentWebhook sends one signed agent text webhook; true when it was accepted (200).
func (c *trafficClient) agentWebhook(session string, seq int) bool {
	id := fmt.Sprintf("agent-%s-%05d", session, seq)
	c.mu.Lock()
	customer := c.customers[session]
	c.mu.Unlock()
	body, _ := json.Marshal(genesys.Webhook{
		ID: id, Type: genesys.MessageTypeText, Text: fmt.Sprintf("%s agent %05d", session, seq), Direction: "Outbound",
		Channel: genesys.Channel{ID: c.integrationID, Platform: "Open", Type: "Private", MessageID: id,
			To: genesys.Recipient{ID: customer}, From: genesys.Recipient{ID: c.integrationID, IDType: "Opaque", Nickname: "Agent"}, Time: genesys.TimestampOf(time.Now())},
	})
	req, _ := http.NewRequest(http.MethodPost, c.base+"/handover/genesysCloudOM", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(genesys.SignatureHeader, genesys.Sign(c.secret, body))
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.refuse("webhook: no answer")
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		c.refuse(fmt.Sprintf("webhook: %d", resp.StatusCode))
		return false
	}
	c.took("webhook", start)
	c.mu.Lock()
	c.acceptedHooks[id] = session
	c.mu.Unlock()
	return true
}

// customerIDs reads each session's Genesys customer id from the database.
func customerIDs(t *testing.T, db *gorm.DB) map[string]string {
	t.Helper()
	var rows []struct{ SessionID, CustomerID string }
	if err := db.Raw("SELECT session_id, customer_id FROM conversations").Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		out[r.SessionID] = r.CustomerID
	}
	return out
}

// sandboxMessages counts the sandbox's inbound messages by channel.messageId:
// first copies, and repeated ones (answered from the first copy).
func sandboxMessages(g *genesysFake) (firsts map[string]int, order []string, repeats int) {
	firsts = map[string]int{}
	for _, rec := range g.Inbound() {
		m, ok := rec.Parsed.(genesys.InboundMessage)
		if rec.Kind != sandbox.KindMessage || !ok {
			continue
		}
		if rec.Duplicate {
			repeats++
			continue
		}
		firsts[m.Channel.MessageID]++
		order = append(order, m.Channel.MessageID)
	}
	return firsts, order, repeats
}

func scalar(t *testing.T, db *gorm.DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.Raw(query, args...).Scan(&n).Error; err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestSIGKILLMidStreamLosesAndDoublesNothingThatWasAccepted(t *testing.T) {
	bin := buildBinary(t)
	g := startSandbox(t, nil)
	dir := t.TempDir()
	addr := testkit.FreeAddr(t)
	base := "http://" + addr
	dbURL := "sqlite:" + filepath.Join(dir, "handover.db")
	const (
		apiKey        = "crash-test-admin-api-key-0123456789"
		webhookSecret = "crash-test-webhook-secret-0123456789"
		clientSecret  = "crash-test-client-secret"
		sessions      = 5
		perSender     = 1000 // at most, per session and kind: the stream runs until stopped
		pause         = 10 * time.Millisecond
	)
	vars := map[string]string{
		"HANDOVER_ADDR": addr, "HANDOVER_DATABASE_URL": dbURL, "HANDOVER_SANDBOX": "false",
		"HANDOVER_ADMIN_API_KEY": apiKey, "HANDOVER_ADMIN_PASSWORD": "crash-test-password",
		"HANDOVER_GENESYS_REQUESTS_PER_MINUTE": "1000000", "HANDOVER_LOG_LEVEL": "warn",
	}
	maps.Copy(vars, noLimits)
	env := binaryEnv(vars)
	proc := startBinary(t, bin, env, base)

	g.AddClient(e2eClientID, clientSecret)
	g.AddQueue(e2eQueueID, "Support")
	integration := g.AddIntegration(e2eDeployment, base+"/handover/genesysCloudOM", webhookSecret)
	token := adminCreateEndpoint(t, base, apiKey, map[string]any{
		"name": "Crash", "host": g.base, "deploymentName": e2eDeployment, "queueId": e2eQueueID,
		"webhookSecret": webhookSecret, "clientId": e2eClientID, "clientSecret": clientSecret,
	})
	client := newTrafficClient(base, token, webhookSecret, integration.ID, nil)
	names := make([]string, sessions)
	for i := range sessions {
		names[i] = fmt.Sprintf("c%02d", i)
		body, _ := json.Marshal(map[string]any{"userId": "u-" + names[i], "sessionId": names[i]})
		resp, err := client.http.Post(base+"/"+token+"/handover", "application/json", bytes.NewReader(body))
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("handover %s: %v %v", names[i], err, resp)
		}
		resp.Body.Close()
	}
	testkit.WaitFor(t, 10*time.Second, "the handovers at Genesys", func() bool { return len(g.Conversations()) == sessions })
	db := openDB(t, dbURL)
	client.customers = customerIDs(t, db)

	// The stream: per session, one sender of user messages and one of agent
	// webhooks, each pacing its requests with a short pause between them.
	ctx, stopStream := context.WithCancel(context.Background())
	var senders sync.WaitGroup
	for _, s := range names {
		for _, send := range []func(string, int) bool{client.userMessage, client.agentWebhook} {
			senders.Go(func() {
				// Pacing, not synchronisation: the ticker spreads each
				// sender's requests out into a steady stream; the test
				// waits for outcomes below, never for this.
				pace := time.NewTicker(pause)
				defer pace.Stop()
				for seq := 1; seq <= perSender; seq++ {
					send(s, seq)
					select {
					case <-pace.C:
					case <-ctx.Done():
						return
					}
				}
			})
		}
	}
	// counts tells how many user messages and webhooks were accepted, and
	// how many requests found no server.
	counts := func() (messages, hooks, unanswered int) {
		client.mu.Lock()
		defer client.mu.Unlock()
		return len(client.accepted), len(client.acceptedHooks), client.refused["user message: no answer"] + client.refused["webhook: no answer"]
	}
	const perPhase = 250 // accepted of each kind before the kill, and again after the restart
	testkit.WaitFor(t, 30*time.Second, "the stream under way", func() bool {
		messages, hooks, _ := counts()
		return messages >= perPhase && hooks >= perPhase
	})
	messages, hooks, _ := counts()
	beforeKill := messages + hooks
	pending := scalar(t, db, "SELECT count(*) FROM outbox WHERE status = ?", store.OutboxPending)
	unprocessed := scalar(t, db, "SELECT count(*) FROM webhooks WHERE processed_at IS NULL AND verdict = ?", store.VerdictValid)
	killedAt := time.Now()
	proc.stop(t, syscall.SIGKILL)
	down := time.Now()
	_, _, unansweredBefore := counts()
	testkit.WaitFor(t, 10*time.Second, "requests finding nobody while Handover is down", func() bool {
		// More than the senders can have had in flight at the kill: some
		// were sent while nothing listened.
		_, _, unanswered := counts()
		return unanswered > unansweredBefore+2*len(names)
	})
	proc = startBinary(t, bin, env, base)
	restartedAt := time.Now()
	messagesAtRestart, hooksAtRestart, _ := counts()
	testkit.WaitFor(t, 30*time.Second, "the stream accepted again after the restart", func() bool {
		messages, hooks, _ := counts()
		return messages >= messagesAtRestart+perPhase && hooks >= hooksAtRestart+perPhase
	})
	stopStream()
	senders.Wait()

	// After the restart the backlog drains and every webhook is processed.
	testkit.WaitFor(t, 30*time.Second, "an empty outbox and every agent message processed", func() bool {
		return scalar(t, db, "SELECT count(*) FROM outbox WHERE status = ?", store.OutboxPending) == 0 &&
			scalar(t, db, "SELECT count(*) FROM webhooks WHERE processed_at IS NULL AND verdict = ? AND event_type = ?", store.VerdictValid, genesys.MessageTypeText) == 0
	})
	drained := time.Since(restartedAt)
	// Genesys's receipts for user messages may overtake the answer that
	// names the message; they wait for the sweep (and those for transcript
	// messages are only logged, after 30 s), so they are counted, not awaited.
	receiptsWaiting := scalar(t, db, "SELECT count(*) FROM webhooks WHERE processed_at IS NULL AND verdict = ?", store.VerdictValid)
	proc.stop(t, syscall.SIGTERM)

	// What Handover stored.
	var users []struct {
		ID        int64
		SessionID string
		Text      string
	}
	db.Raw("SELECT id, session_id, text FROM messages WHERE direction = ? ORDER BY id", store.FromUser).Scan(&users)
	var agentIDs []string
	db.Raw("SELECT genesys_message_id FROM messages WHERE direction = ? ORDER BY id", store.FromAgent).Scan(&agentIDs)
	failed := scalar(t, db, "SELECT count(*) FROM outbox WHERE status <> ?", store.OutboxSent)
	firsts, order, repeats := sandboxMessages(g)

	client.mu.Lock()
	defer client.mu.Unlock()
	stored := map[int64]bool{}
	for _, u := range users {
		stored[u.ID] = true
		// Every stored user message reached Genesys exactly once, including
		// those whose answer the kill cut off.
		if n := firsts["hov-msg-"+strconv.FormatInt(u.ID, 10)]; n != 1 {
			t.Errorf("user message %d (%s) reached Genesys %d times", u.ID, u.Text, n)
		}
	}
	delivered := 0
	for id, what := range client.accepted {
		if !stored[id] {
			t.Errorf("accepted message %d (%s) is not stored", id, what)
		}
		if firsts["hov-msg-"+strconv.FormatInt(id, 10)] == 1 {
			delivered++
		}
	}
	// Per session, Genesys got the user's messages in the order they were sent.
	textOf := map[string]string{}
	for _, u := range users {
		textOf["hov-msg-"+strconv.FormatInt(u.ID, 10)] = u.Text
	}
	last := map[string]string{}
	for _, mid := range order {
		text, ok := textOf[mid]
		if !ok {
			continue // the handover's transcript message
		}
		session, _, _ := strings.Cut(text, " ")
		if text <= last[session] {
			t.Errorf("%s: %q reached Genesys after %q", session, text, last[session])
		}
		last[session] = text
	}
	agentCount := map[string]int{}
	for _, id := range agentIDs {
		agentCount[id]++
	}
	for id, n := range agentCount {
		if n != 1 {
			t.Errorf("agent message %s stored %d times", id, n)
		}
	}
	for id := range client.acceptedHooks {
		if agentCount[id] != 1 {
			t.Errorf("accepted webhook %s is stored %d times", id, agentCount[id])
		}
	}
	if failed != 0 {
		t.Errorf("%d outbox items not sent", failed)
	}
	if len(client.accepted) == 0 || len(client.acceptedHooks) == 0 || len(client.refused) == 0 {
		t.Fatalf("the stream did not straddle the kill: %d messages, %d webhooks accepted, refused %v", len(client.accepted), len(client.acceptedHooks), client.refused)
	}
	unanswered := len(users) - len(client.accepted)
	extraHooks := len(agentCount) - len(client.acceptedHooks)
	t.Logf("accepted before the kill: %d; at the kill: %d outbox items pending, %d webhooks unprocessed", beforeKill, pending, unprocessed)
	t.Logf("down %s (kill → ready again %s); drained %s after the restart", restartedAt.Sub(down).Round(time.Millisecond), restartedAt.Sub(killedAt).Round(time.Millisecond), drained.Round(time.Millisecond))
	t.Logf("user messages: %d accepted (202), %d delivered once; %d stored, of which %d without an answer (cut off by the kill) and delivered once as well", len(client.accepted), delivered, len(users), unanswered)
	t.Logf("agent webhooks: %d accepted (200), each stored once; %d stored without an answer; %d agent messages in all", len(client.acceptedHooks), extraHooks, len(agentIDs))
	t.Logf("re-sends the crash caused (a repeated channel.messageId, answered by the sandbox from its first copy): %d", repeats)
	t.Logf("not accepted: %v; receipts from Genesys still waiting when the outbox was empty: %d", client.refused, receiptsWaiting)
	if t.Failed() {
		t.Logf("handover output:\n%s", proc.out)
	}
}

func percentile(values []float64, p float64) float64 {
	if len(values) == 0 {
		return 0
	}
	sorted := append([]float64(nil), values...)
	sort.Float64s(sorted)
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}
