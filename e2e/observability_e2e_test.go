package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/handover-relay/handover/internal/testkit"
)

const e2eMetricsToken = "metrics-token-0123456789abcdef"

// scrape GETs url with the bearer token (none when empty).
func scrape(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// runHandover takes session s1 through a handover: queued, an agent joins
// and answers, the user writes, and the user leaves.
func runHandover(t *testing.T, d *deployment, inst *instance) {
	t.Helper()
	token := d.endpoint.URLToken
	events := inst.events(token, "s1", "")
	inst.post("/"+token+"/handover", handoverBody("s1"))
	conv := d.sandboxConversation(inst, "s1")
	if err := d.genesys.Accept(conv.ID, "Max Agent"); err != nil {
		t.Fatal(err)
	}
	for ev := next(t, events, "state"); ev.Data["state"] != "agent_joined"; ev = next(t, events, "state") {
	}
	if _, err := d.genesys.AgentSend(conv.ID, "Hello, I am Max.", ""); err != nil {
		t.Fatal(err)
	}
	next(t, events, "message")
	if status, out := inst.post("/"+token, map[string]any{"userId": "user-s1", "sessionId": "s1", "text": "thanks"}); status != http.StatusAccepted {
		t.Fatalf("user message: %d %v", status, out)
	}
	if status, out := inst.post("/"+token+"/sessions/s1/end", nil); status != http.StatusOK {
		t.Fatalf("end: %d %v", status, out)
	}
	testkit.WaitFor(t, 5*time.Second, "the customer disconnected in Genesys", func() bool {
		c, _ := d.genesys.Conversation(conv.ID)
		for _, p := range c.Participants {
			if p.Purpose == "customer" && p.State == "disconnected" {
				return true
			}
		}
		return false
	})
}

func TestMetricsFollowAHandoverAndNeedTheToken(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	d.env = map[string]string{"HANDOVER_METRICS_TOKEN": e2eMetricsToken}
	inst := d.start()

	for _, token := range []string{"", "not-the-metrics-token-at-all"} {
		if status, _ := scrape(t, inst.base+"/metrics", token); status != http.StatusUnauthorized {
			t.Fatalf("/metrics with token %q: %d, want 401", token, status)
		}
	}
	runHandover(t, d, inst)

	want := []string{
		`handover_handovers_requested_total 1`,
		`handover_handovers_queued_total 1`,
		`handover_handovers_agent_joined_total 1`,
		`handover_handovers_ended_total{reason="user_ended"} 1`,
		`handover_time_to_agent_joined_seconds_count 1`,
		`handover_time_to_first_agent_message_seconds_count 1`,
		`handover_webhooks_total{verdict="valid"} `,
		`handover_genesys_requests_total{method="POST",route="/api/v2/conversations/messages/{id}/inbound/open/message",status="200"} `,
		`handover_genesys_requests_total{method="PATCH",route="/api/v2/conversations/messages/{id}/participants/{id}",status="`,
		`handover_genesys_request_duration_seconds_count{method="POST",route="/oauth/token"} `,
		`handover_outbox_backlog 0`,
		`handover_outbox_oldest_age_seconds 0`,
		`handover_handovers_open{state="queued"} 0`,
		`handover_handovers_open{state="agent_joined"} 0`,
		`handover_sse_watchers 1`,
		`go_goroutines `,
	}
	var body string
	testkit.WaitFor(t, 5*time.Second, "the metrics to show the handover", func() bool {
		var status int
		status, body = scrape(t, inst.base+"/metrics", e2eMetricsToken)
		if status != http.StatusOK {
			t.Fatalf("/metrics with the token: %d %s", status, body)
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				return false
			}
		}
		return true
	})
	if regexp.MustCompile(`route="[^"]*[0-9a-f]{8}-[0-9a-f]{4}-`).MatchString(body) {
		t.Fatalf("a route label carries an id:\n%s", body)
	}
}

func TestMetricsAreServedApartOrNotAtAll(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	inst := d.start()
	if status, _ := scrape(t, inst.base+"/metrics", e2eMetricsToken); status != http.StatusNotFound {
		t.Fatalf("/metrics without HANDOVER_METRICS_TOKEN or _ADDR: %d, want 404", status)
	}
	inst.stopOrFail()

	metricsAddr := testkit.FreeAddr(t)
	d.env = map[string]string{"HANDOVER_METRICS_ADDR": metricsAddr}
	inst = d.start()
	if status, _ := scrape(t, inst.base+"/metrics", ""); status != http.StatusNotFound {
		t.Fatalf("/metrics on the main address with HANDOVER_METRICS_ADDR set: %d, want 404", status)
	}
	status, body := scrape(t, "http://"+metricsAddr+"/metrics", "")
	if status != http.StatusOK || !strings.Contains(body, "handover_outbox_backlog") {
		t.Fatalf("/metrics on HANDOVER_METRICS_ADDR: %d\n%s", status, body)
	}
}

func TestJSONLogLinesAboutAHandoverCarryItsConversationID(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	d.env = map[string]string{"HANDOVER_LOG_FORMAT": "json"}
	inst := d.start()
	runHandover(t, d, inst)
	conv, err := inst.srv.Store.LatestConversation(t.Context(), d.endpoint.ID, "s1")
	if err != nil {
		t.Fatal(err)
	}
	// Lines about the conversation, from each relay path: the handover, the
	// outbox, webhook processing and end detection.
	about := map[string]int{"handover queued": 0, "user message queued": 0, "Genesys call delivered": 0, "webhook processed": 0, "agent joined": 0, "handover ended": 0}
	requests := 0
	scanner := bufio.NewScanner(strings.NewReader(inst.logs.String()))
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		var line map[string]any
		if err := json.Unmarshal(scanner.Bytes(), &line); err != nil {
			t.Fatalf("not a JSON log line: %s", scanner.Text())
		}
		msg, _ := line["msg"].(string)
		if msg == "request" {
			if id, _ := line["request_id"].(string); id == "" {
				t.Errorf("a request line without request_id: %s", scanner.Text())
			}
			requests++
		}
		if _, ok := about[msg]; !ok {
			continue
		}
		about[msg]++
		if id, _ := line["conversation_id"].(float64); int64(id) != conv.ID {
			t.Errorf("%q line carries conversation_id %v, want %d: %s", msg, line["conversation_id"], conv.ID, scanner.Text())
		}
	}
	for msg, n := range about {
		if n == 0 {
			t.Errorf("no %q line in the log", msg)
		}
	}
	if requests == 0 {
		t.Error("no request lines")
	}
}
