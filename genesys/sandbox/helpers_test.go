package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/genesys"
)

const (
	testClientID     = "relay-client"
	testClientSecret = "relay-secret-0123456789"
	testQueueID      = "3b9e2f10-6c1d-4a7e-9f02-5d8c7b6a4e31"
	testWebhookKey   = "webhook-secret-0123456789"
)

// harness is a sandbox served over real loopback HTTP.
type harness struct {
	sb   *Sandbox
	base string // the sandbox's base URL, which is also the Genesys "host"
}

// startSandbox serves a sandbox on 127.0.0.1 with one client and one queue,
// with fast webhook retries unless configure says otherwise.
func startSandbox(t *testing.T, configure func(*Config)) *harness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	base := "http://" + ln.Addr().String()
	cfg := Config{
		PublicBaseURL:     base,
		WebhookRetryDelay: 10 * time.Millisecond,
		WebhookTimeout:    time.Second,
	}
	if configure != nil {
		configure(&cfg)
	}
	sb, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	sb.AddClient(testClientID, testClientSecret)
	sb.AddQueue(testQueueID, "Support")
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	sb.Register(app)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = app.Listener(ln)
	}()
	t.Cleanup(func() {
		sb.Close()
		_ = app.ShutdownWithTimeout(2 * time.Second)
		<-served
	})
	return &harness{sb: sb, base: base}
}

func (h *harness) client(t *testing.T, secret string) *genesys.Client {
	t.Helper()
	c, err := genesys.NewClient(genesys.Config{
		Host:         genesys.Host(h.base),
		ClientID:     testClientID,
		ClientSecret: secret,
		HTTPClient:   &http.Client{Timeout: 5 * time.Second},
		CallTimeout:  5 * time.Second,
	})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// token gets an access token the plain way, for raw HTTP calls.
func (h *harness) token(t *testing.T) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.base+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.SetBasicAuth(testClientID, testClientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body := do(t, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %d %s", resp.StatusCode, body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token answer %s: %v", body, err)
	}
	return tok.AccessToken
}

// call makes a raw API call with token and returns the status and body.
func (h *harness) call(t *testing.T, token, method, path string, body any) (*http.Response, []byte) {
	t.Helper()
	var reader io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		reader = strings.NewReader(b)
	case []byte:
		reader = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, h.base+path, reader)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	return resp, body
}

// receiver is a webhook endpoint that answers with the given statuses in
// turn (200 once they run out) and keeps what it got.
type receiver struct {
	url string

	mu       sync.Mutex
	statuses []int
	got      []receivedWebhook
	arrived  chan struct{}
}

type receivedWebhook struct {
	body      []byte
	signature string
	header    http.Header
}

func startReceiver(t *testing.T, statuses ...int) *receiver {
	t.Helper()
	r := &receiver{statuses: statuses, arrived: make(chan struct{}, 100)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, receivedWebhook{body: body, signature: req.Header.Get(genesys.SignatureHeader), header: req.Header.Clone()})
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(status)
		r.arrived <- struct{}{}
	}), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	r.url = "http://" + ln.Addr().String() + "/genesys/webhook"
	return r
}

// wait blocks until n requests have arrived in total.
func (r *receiver) wait(t *testing.T, n int) []receivedWebhook {
	t.Helper()
	deadline := time.After(2 * time.Second)
	for {
		r.mu.Lock()
		if len(r.got) >= n {
			got := append([]receivedWebhook(nil), r.got...)
			r.mu.Unlock()
			return got
		}
		r.mu.Unlock()
		select {
		case <-r.arrived:
		case <-deadline:
			t.Fatalf("waited 2s for %d webhook requests", n)
		}
	}
}

// eventually polls cond every few milliseconds until it holds, and fails
// the test when it still does not after two seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(2 * time.Second)
	defer deadline.Stop()
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for !cond() {
		select {
		case <-poll.C:
		case <-deadline.C:
			if cond() {
				return
			}
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func customerMessage(from, messageID, text string, attrs map[string]string) genesys.InboundMessage {
	msg := genesys.InboundMessage{
		Channel: genesys.InboundChannel{
			MessageID: messageID,
			From:      genesys.Recipient{ID: from, IDType: genesys.IDTypeOpaque, Nickname: "Jane Doe"},
			Time:      genesys.TimestampOf(time.Now()),
		},
		Text: text,
	}
	if attrs != nil {
		msg.Channel.Metadata = &genesys.ChannelMetadata{CustomAttributes: attrs}
	}
	return msg
}

// startConversation sends a first message and returns the conversation id.
func startConversation(t *testing.T, h *harness, integrationID, from string) string {
	t.Helper()
	resp, err := h.client(t, testClientSecret).SendMessage(context.Background(), integrationID,
		customerMessage(from, from+"-1", "I need a human", map[string]string{"botSessionId": from}), true)
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	return resp.ConversationID
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
