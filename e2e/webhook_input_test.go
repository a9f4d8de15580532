package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/internal/testkit"
	"github.com/handover-relay/handover/store"
)

// The webhook is Handover's one door that anyone on the internet can knock
// on. These tests send it what an attacker, a misconfigured integration or a
// retrying Genesys would, over loopback to the real wiring, and check the
// answer and the webhook log row of each: its verdict, and words saying why.
// The fuzz targets FuzzParseWebhook and FuzzVerifySignature (genesys/) cover
// the parser and the verifier with random input; scripts/test.sh runs them in CI.

// lastWebhook is the newest row of the webhook log.
func lastWebhook(t *testing.T, inst *instance) (store.Webhook, int) {
	t.Helper()
	var last store.Webhook
	n := 0
	if err := inst.srv.Store.ForEachWebhook(context.Background(), func(w store.Webhook) { last = w; n++ }); err != nil {
		t.Fatal(err)
	}
	return last, n
}

func TestHostileAndBrokenWebhooksGetTheRightAnswerAndALogRowSayingWhy(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	inst := d.start()
	inst.post("/"+d.endpoint.URLToken+"/handover", handoverBody("s1"))
	d.sandboxConversation(inst, "s1")
	e, _ := inst.srv.Store.EndpointByID(context.Background(), d.endpoint.ID)

	body, good := d.signedWebhook(inst, "s1", "in-1", "hello", time.Now())
	oneByteChanged := bytes.Replace(body, []byte("hello"), []byte("hellO"), 1)
	unknown := bytes.ReplaceAll(body, []byte(e.IntegrationID), []byte(uuid.NewString()))
	hexDigest := "sha256=" + fmt.Sprintf("%x", hmacOf(d.secret, body))
	cases := []struct {
		name      string
		body      []byte
		signature string
		status    int
		verdict   string
		detail    string // words the log row's detail must hold
	}{
		{"missing header", body, "", 401, store.VerdictMissing, "no X-Hub-Signature-256"},
		{"wrong prefix", body, "sha1=" + strings.TrimPrefix(good, "sha256="), 401, store.VerdictMismatch, "not sha256="},
		{"hex instead of base64", body, hexDigest, 401, store.VerdictMismatch, "hex"},
		{"wrong secret", body, genesys.Sign("another-secret-of-20-chars", body), 401, store.VerdictMismatch, "does not match"},
		{"body changed by one byte", oneByteChanged, good, 401, store.VerdictMismatch, "does not match"},
		{"empty body", nil, genesys.Sign(d.secret, nil), 400, store.VerdictMalformed, "not JSON"},
		{"not JSON", []byte("id=1&type=Text"), genesys.Sign(d.secret, []byte("id=1&type=Text")), 400, store.VerdictMalformed, "not JSON"},
		{"JSON array", []byte(`[{"id":"x"}]`), genesys.Sign(d.secret, []byte(`[{"id":"x"}]`)), 400, store.VerdictMalformed, "not a JSON object"},
		{"JSON of the wrong shape", []byte(`{"message":"hi"}`), genesys.Sign(d.secret, []byte(`{"message":"hi"}`)), 400, store.VerdictMalformed, "missing id, channel.id, type"},
		{"wrong field types", []byte(`{"id":1,"channel":"x","type":true}`), genesys.Sign(d.secret, []byte(`{"id":1,"channel":"x","type":true}`)), 400, store.VerdictMalformed, "cannot unmarshal"},
		{"unknown integration id", unknown, genesys.Sign(d.secret, unknown), 401, store.VerdictUnknownIntegration, "no endpoint"},
		{"valid", body, good, 200, store.VerdictValid, ""},
		{"duplicate message id", body, good, 200, store.VerdictValid, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, _ := lastWebhook(t, inst)
			if status := inst.postWebhook(c.body, c.signature); status != c.status {
				t.Fatalf("status %d, want %d", status, c.status)
			}
			// The sandbox's own receipts may be logged meanwhile: find this
			// request's row by its body.
			var rows []store.Webhook
			inst.srv.Store.ForEachWebhook(context.Background(), func(w store.Webhook) {
				if w.ID > before.ID && w.Body == string(c.body) {
					rows = append(rows, w)
				}
			})
			if len(rows) != 1 {
				t.Fatalf("%d log rows written, want 1", len(rows))
			}
			row := rows[0]
			if row.Status != c.status || row.Verdict != c.verdict || !strings.Contains(row.VerdictDetail, c.detail) {
				t.Fatalf("log row: status %d verdict %q detail %q; want %d %q with %q", row.Status, row.Verdict, row.VerdictDetail, c.status, c.verdict, c.detail)
			}
			if c.status != 200 && row.Outcome != store.OutcomeRejected {
				t.Fatalf("refused webhook's outcome %q, want %q", row.Outcome, store.OutcomeRejected)
			}
		})
	}

	// The two valid copies: applied once, the second logged as a duplicate.
	testkit.WaitFor(t, 5*time.Second, "the webhooks processed", func() bool {
		var outcomes []string
		inst.srv.Store.ForEachWebhook(context.Background(), func(w store.Webhook) {
			if w.GenesysMessageID == "in-1" && w.Verdict == store.VerdictValid {
				outcomes = append(outcomes, w.Outcome)
			}
		})
		return strings.Join(outcomes, ",") == store.OutcomeDelivered+","+store.OutcomeDuplicate
	})
	conv, _ := inst.srv.Store.LatestConversation(context.Background(), d.endpoint.ID, "s1")
	if texts := agentTexts(t, inst, conv.ID); strings.Join(texts, "|") != "hello" {
		t.Fatalf("agent messages %q, want the valid one once", texts)
	}
	assertAlive(t, inst)
}

func hmacOf(secret string, body []byte) []byte {
	sig := genesys.Sign(secret, body)
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sig, "sha256="))
	return raw
}

// agentTexts are the texts of a conversation's agent messages, in stored order.
func agentTexts(t *testing.T, inst *instance, conversationID int64) []string {
	t.Helper()
	msgs, err := inst.srv.Store.ConversationMessages(context.Background(), conversationID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		if m.Direction == store.FromAgent {
			out = append(out, m.Text)
		}
	}
	return out
}

func assertAlive(t *testing.T, inst *instance) {
	t.Helper()
	resp, err := http.Get(inst.base + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("Handover is not ready after the hostile input: %v %v", err, resp)
	}
	resp.Body.Close()
}

func TestATenMegabyteWebhookIsRefusedUnreadAndLogged(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	inst := d.start()
	const size = 10 << 20

	// A raw client that announces 10 MB and sends none of it: the answer
	// comes at once, so the server decided on Content-Length alone.
	conn, err := net.DialTimeout("tcp", d.addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "POST /handover/genesysCloudOM HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n%s: sha256=AAAA\r\nContent-Length: %d\r\n\r\n", d.addr, genesys.SignatureHeader, size)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a 10 MB Content-Length before its body: %v", err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(answer), `"code":"too_large"`) {
		t.Fatalf("answer %d %s, want 413 with code too_large", resp.StatusCode, answer)
	}
	row, n := lastWebhook(t, inst)
	if n != 1 || row.Status != 413 || row.Verdict != store.VerdictTooLarge || !strings.Contains(row.VerdictDetail, fmt.Sprint(size)) || row.Outcome != store.OutcomeRejected {
		t.Fatalf("log (%d rows), last: %d %q %q %q", n, row.Status, row.Verdict, row.VerdictDetail, row.Outcome)
	}
	if row.Headers[genesys.SignatureHeader] != "sha256=AAAA" || row.Body != "" {
		t.Fatalf("log row keeps headers %v and body of %d bytes", row.Headers, len(row.Body))
	}

	// An ordinary HTTP client sending the whole 10 MB: refused the same way,
	// and the server stops reading long before the end.
	var sent atomic.Int64
	req, _ := http.NewRequest(http.MethodPost, inst.base+"/handover/genesysCloudOM", &countingReader{r: io.LimitReader(zeroes{}, size), n: &sent})
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err = client.Do(req)
	switch {
	case err == nil:
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("10 MB body: %d, want 413", resp.StatusCode)
		}
	default:
		// The server closes the connection after answering; a client still
		// writing may see the reset before the answer. Either way nothing
		// was accepted, and the log says why.
		t.Logf("10 MB body: the client saw %v after writing %d bytes", err, sent.Load())
	}
	testkit.WaitFor(t, 2*time.Second, "the second refusal logged", func() bool {
		row, n := lastWebhook(t, inst)
		return n == 2 && row.Verdict == store.VerdictTooLarge
	})

	// A chunked body has no Content-Length: it is read up to the limit only,
	// then refused. fasthttp resets the request before fiber's error handler
	// sees it, so nothing can tell that it was meant for the webhook: it gets
	// its 413 and an access-log line, but no webhook log row (Genesys sends
	// Content-Length).
	conn2, err := net.DialTimeout("tcp", d.addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	conn2.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn2, "POST /handover/genesysCloudOM HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", d.addr)
	chunk := strings.Repeat("x", 64<<10)
	go func() {
		for range 20 { // 1.25 MB, over the 1 MB limit
			if _, err := fmt.Fprintf(conn2, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
				return
			}
		}
	}()
	if resp, err := http.ReadResponse(bufio.NewReader(conn2), nil); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("chunked 1.25 MB: %d, want 413", resp.StatusCode)
		}
	} else {
		t.Logf("chunked 1.25 MB: %v", err)
	}
	if _, n := lastWebhook(t, inst); n != 2 {
		t.Fatalf("%d webhook log rows, want 2", n)
	}
	assertAlive(t, inst)
}

type zeroes struct{}

func (zeroes) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func TestOutOfOrderWebhooksAreAllAppliedInArrivalOrder(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	inst := d.start()
	token := d.endpoint.URLToken
	events := inst.events(token, "s1", "")
	inst.post("/"+token+"/handover", handoverBody("s1"))
	// Typing is live only, never stored: wait until the stream follows the
	// session (its first stored event) before Genesys sends it.
	next(t, events, "state")
	d.sandboxConversation(inst, "s1")
	conv, _ := inst.srv.Store.LatestConversation(context.Background(), d.endpoint.ID, "s1")
	e, _ := inst.srv.Store.EndpointByID(context.Background(), d.endpoint.ID)
	base := time.Now().Add(-time.Minute)

	typing := genesys.Webhook{ID: "ev-1", Type: genesys.MessageTypeEvent, Direction: "Outbound",
		Channel: genesys.Channel{ID: e.IntegrationID, Platform: "Open", Type: "Private", To: genesys.Recipient{ID: conv.CustomerID}, From: genesys.Recipient{ID: e.IntegrationID}, Time: genesys.TimestampOf(base.Add(40 * time.Second))},
		Events:  []genesys.Event{{EventType: genesys.EventTypeTyping, Typing: &genesys.Typing{Type: "On", Duration: 5000}}}}
	typingBody, _ := json.Marshal(typing)
	// Arrival order: the typing event (newest channel.time), then messages
	// whose channel.time runs 30 s, 0 s, 20 s, 10 s.
	arrivals := []struct {
		body []byte
		sig  string
	}{{typingBody, genesys.Sign(d.secret, typingBody)}}
	for _, m := range []struct {
		id, text string
		at       time.Duration
	}{{"m-d", "fourth by time", 30 * time.Second}, {"m-a", "first by time", 0}, {"m-c", "third by time", 20 * time.Second}, {"m-b", "second by time", 10 * time.Second}} {
		body, sig := d.signedWebhook(inst, "s1", m.id, m.text, base.Add(m.at))
		arrivals = append(arrivals, struct {
			body []byte
			sig  string
		}{body, sig})
	}
	for i, a := range arrivals {
		if status := inst.postWebhook(a.body, a.sig); status != http.StatusOK {
			t.Fatalf("webhook %d: %d", i, status)
		}
	}
	want := []string{"fourth by time", "first by time", "third by time", "second by time"}
	if ev := next(t, events, "typing"); ev.Data["from"] != store.FromAgent {
		t.Fatalf("typing event %v", ev.Data)
	}
	for _, text := range want {
		if ev := next(t, events, "message"); ev.Data["text"] != text {
			t.Fatalf("stream: %v, want %q (arrival order)", ev.Data["text"], text)
		}
	}
	if got := agentTexts(t, inst, conv.ID); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("stored %q, want every message in arrival order %q", got, want)
	}
	testkit.WaitFor(t, 5*time.Second, "every webhook processed", func() bool {
		done := 0
		inst.srv.Store.ForEachWebhook(context.Background(), func(w store.Webhook) {
			if w.Verdict == store.VerdictValid && w.Outcome == store.OutcomeDelivered && w.ProcessedAt != nil {
				done++
			}
		})
		return done == len(arrivals)
	})
}
