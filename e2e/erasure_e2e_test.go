package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/handover-relay/handover/internal/testkit"
	"github.com/handover-relay/handover/store"
)

const erasureAPIKey = "hov_erasure-test-admin-api-key"

// adminAPI calls the JSON admin API with the test's key and decodes the answer.
func (i *instance) adminAPI(method, path string, out any) int {
	i.t.Helper()
	req, _ := http.NewRequest(method, i.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+erasureAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		i.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if out != nil && len(body) > 0 {
		if err := json.Unmarshal(body, out); err != nil {
			i.t.Fatalf("%s %s: %v in %s", method, path, err, body)
		}
	}
	return resp.StatusCode
}

type exportedContact struct {
	UserID        string `json:"userId"`
	Conversations []struct {
		ID       int64 `json:"id"`
		Messages []struct {
			From string `json:"from"`
			Kind string `json:"kind"`
			Text string `json:"text"`
		} `json:"messages"`
		Timeline []struct {
			Kind string `json:"kind"`
		} `json:"timeline"`
	} `json:"conversations"`
}

// TestExportReturnsWhatAPersonSentInOrderAndErasureLeavesNothingOfThem runs
// docs/privacy.md's export and erasure over HTTP, on SQLite and PostgreSQL:
// the export has the person's texts in order and the agent's answer; the
// erasure ends the open handover in Genesys first, answers the counts, and
// afterwards the export, the console's list and the conversation page show
// nothing of them, while another person's conversation stays.
func TestExportReturnsWhatAPersonSentInOrderAndErasureLeavesNothingOfThem(t *testing.T) {
	for _, dialect := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(dialect), func(t *testing.T) {
			g := startSandbox(t, nil)
			d := newDeploymentOn(t, g, dialect)
			d.env = map[string]string{"HANDOVER_ADMIN_API_KEY": erasureAPIKey}
			inst := d.start()
			token := d.endpoint.URLToken
			const person = "person/with spaces+1" // a user id needs percent-encoding in the path
			events := inst.events(token, "s1", "")
			inst.post("/"+token+"/handover", map[string]any{"userId": person, "sessionId": "s1",
				"transcript": []map[string]any{{"source": "user", "text": "transcript-line-a1"}}})
			next(t, events, "state")
			for _, text := range []string{"first-text-b2", "second-text-c3"} {
				if status, body := inst.post("/"+token, map[string]any{"userId": person, "sessionId": "s1", "text": text}); status != http.StatusAccepted && status != http.StatusOK {
					t.Fatalf("message: %d %v", status, body)
				}
			}
			sc := d.sandboxConversation(inst, "s1")
			if err := g.Accept(sc.ID, "Agent Smith"); err != nil {
				t.Fatal(err)
			}
			if _, err := g.AgentSend(sc.ID, "agent-answer-d4", ""); err != nil {
				t.Fatal(err)
			}
			for ev := next(t, events, "message"); ev.Data["text"] != "agent-answer-d4"; ev = next(t, events, "message") {
			}
			inst.post("/"+token+"/handover", map[string]any{"userId": "someone-else", "sessionId": "s2"})
			testkit.WaitFor(t, 5*time.Second, "both messages at Genesys", func() bool {
				c, _ := g.Conversation(sc.ID)
				texts := customerTexts(c)
				return slices.Contains(texts, "second-text-c3")
			})

			path := "/api/v1/admin/contacts/" + url.PathEscape(person)
			var export exportedContact
			if status := inst.adminAPI(http.MethodGet, path, &export); status != http.StatusOK {
				t.Fatalf("export: %d", status)
			}
			if export.UserID != person || len(export.Conversations) != 1 {
				t.Fatalf("export: %+v", export)
			}
			var said []string
			for _, m := range export.Conversations[0].Messages {
				if m.From == store.FromUser || m.From == store.FromAgent || m.Kind == store.KindTranscript {
					said = append(said, m.Text)
				}
			}
			joined := strings.Join(said, "|")
			if !regexp.MustCompile(`transcript-line-a1.*\|first-text-b2\|second-text-c3\|agent-answer-d4`).MatchString(joined) {
				t.Fatalf("exported texts in order: %q", joined)
			}
			if len(export.Conversations[0].Timeline) <= len(export.Conversations[0].Messages) {
				t.Fatalf("the timeline has no entries besides the messages: %+v", export.Conversations[0].Timeline)
			}
			convID := export.Conversations[0].ID

			var erased struct {
				Deleted store.Deleted `json:"deleted"`
			}
			if status := inst.adminAPI(http.MethodDelete, path, &erased); status != http.StatusOK {
				t.Fatalf("erase: %d; the server said:\n%s", status, failedRequests(inst.logs.String()))
			}
			if erased.Deleted.Conversations != 1 || erased.Deleted.Messages < 5 || erased.Deleted.Webhooks == 0 || erased.Deleted.APICalls == 0 {
				t.Fatalf("erase answered %+v", erased.Deleted)
			}
			after, _ := g.Conversation(sc.ID)
			for _, p := range after.Participants {
				if p.Purpose == "customer" && p.State != "disconnected" {
					t.Fatalf("the erased person's customer leg is %s in Genesys, want disconnected", p.State)
				}
			}
			export = exportedContact{}
			if status := inst.adminAPI(http.MethodGet, path, &export); status != http.StatusOK || len(export.Conversations) != 0 {
				t.Fatalf("export after the erasure: %d %+v", status, export)
			}
			console := testkit.SignedInClient(t, inst.base, "admin", "e2e-password")
			get := func(path string) (int, string) {
				resp, err := console.Get(inst.base + path)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(body)
			}
			if status, _ := get(fmt.Sprintf("/conversations/%d", convID)); status != http.StatusNotFound {
				t.Fatalf("the erased conversation's page: %d, want 404", status)
			}
			_, list := get("/conversations")
			if strings.Contains(list, "person/with spaces") || !strings.Contains(list, "someone-else") {
				t.Fatal("the conversation list shows the erased person, or lost the other one")
			}
			_, webhooks := get("/webhooks")
			if strings.Contains(webhooks, "agent-answer-d4") {
				t.Fatal("the webhook log still shows the erased conversation's text")
			}
			if status := inst.adminAPI(http.MethodGet, "/api/v1/admin/contacts/someone-else", &export); status != http.StatusOK || len(export.Conversations) != 1 {
				t.Fatalf("the other person's export: %d %+v", status, export)
			}
		})
	}
}

// failedRequests are the process log's lines about requests that failed.
func failedRequests(logs string) string {
	var out []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "request failed") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
