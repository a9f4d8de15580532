package e2e

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/handover-relay/handover/internal/testkit"
	"github.com/handover-relay/handover/store"
)

// TestMaskSensitiveLoggingKeepsTextsAndIDsOutOfTheLogsButDeliversThem is
// maskSensitiveLogging (docs/privacy.md) over loopback: the sandbox agent
// reads the user's real text and the bot the agent's, while the webhook
// log, its pages and the process output hold neither text nor the user id.
// Without masking the same conversation's texts are in the webhook log, so
// the check can fail.
func TestMaskSensitiveLoggingKeepsTextsAndIDsOutOfTheLogsButDeliversThem(t *testing.T) {
	for _, run := range []struct {
		dialect store.Dialect
		masked  bool
	}{{store.SQLite, true}, {store.SQLite, false}, {store.Postgres, true}} {
		masked := run.masked
		t.Run(string(run.dialect)+"/masked="+strconv.FormatBool(masked), func(t *testing.T) {
			g := startSandbox(t, nil)
			d := newDeploymentOn(t, g, run.dialect)
			inst := d.start()
			e := d.endpoint
			e.Privacy.MaskSensitiveLogging = masked
			if err := inst.srv.Store.UpdateEndpoint(context.Background(), &e); err != nil {
				t.Fatal(err)
			}
			const userID, userText, agentText = "masked-user-5e1f", "user-secret-text-91ab", "agent-secret-text-77cd"
			token := e.URLToken
			events := inst.events(token, "s1", "")
			inst.post("/"+token+"/handover", map[string]any{"userId": userID, "sessionId": "s1", "customAttributes": map[string]any{"account": "acct-secret-33"}})
			next(t, events, "state")
			inst.post("/"+token, map[string]any{"userId": userID, "sessionId": "s1", "text": userText})
			sc := d.sandboxConversation(inst, "s1")
			if err := g.Accept(sc.ID, "Agent Smith"); err != nil {
				t.Fatal(err)
			}
			if _, err := g.AgentSend(sc.ID, agentText, ""); err != nil {
				t.Fatal(err)
			}
			for ev := next(t, events, "message"); ev.Data["text"] != agentText; ev = next(t, events, "message") {
			}
			testkit.WaitFor(t, 10*time.Second, "the user's text at the sandbox agent", func() bool {
				c, _ := g.Conversation(sc.ID)
				return strings.Contains(strings.Join(customerTexts(c), "|"), userText)
			})
			// The agent's webhook is processed (its text reached the bot); wait
			// until every webhook of the conversation is, receipts included.
			ctx := context.Background()
			conv, err := inst.srv.Store.LatestConversation(ctx, e.ID, "s1")
			if err != nil {
				t.Fatal(err)
			}
			var hooks []store.Webhook
			testkit.WaitFor(t, 10*time.Second, "the webhooks processed", func() bool {
				hooks, _ = inst.srv.Store.WebhooksOf(ctx, conv.ID)
				for _, w := range hooks {
					if w.ProcessedAt == nil {
						return false
					}
				}
				return len(hooks) > 0
			})
			var logged strings.Builder
			for _, w := range hooks {
				logged.WriteString(w.Body)
				if masked && !w.Masked {
					t.Errorf("webhook #%d of a masked endpoint is not marked masked", w.ID)
				}
			}
			console := testkit.SignedInClient(t, inst.base, "admin", "e2e-password")
			for _, path := range append([]string{"/webhooks", "/api-calls"}, webhookPages(hooks)...) {
				resp, err := console.Get(inst.base + path)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				logged.Write(body)
			}
			inst.stopOrFail()
			if !masked {
				if !strings.Contains(logged.String(), agentText) {
					t.Fatal("without masking the webhook log does not show the agent's text: the masked run proves nothing")
				}
				return
			}
			for _, secret := range []string{userText, agentText, userID, "acct-secret-33"} {
				if strings.Contains(logged.String(), secret) {
					t.Errorf("%q is in the webhook log or its pages", secret)
				}
				if strings.Contains(inst.logs.String(), secret) {
					t.Errorf("%q is in the process output", secret)
				}
			}
		})
	}
}

func webhookPages(hooks []store.Webhook) []string {
	var out []string
	for _, w := range hooks {
		out = append(out, "/webhooks/"+strconv.FormatInt(w.ID, 10))
	}
	return out
}
