package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/handover-relay/handover/genesys/sandbox"
	"github.com/handover-relay/handover/internal/testkit"
	"github.com/handover-relay/handover/store"
)

const rotationAPIKey = "hov_rotation-test-admin-api-key"

// putEndpoint changes an endpoint through the admin API, as an operator's script would.
func (i *instance) putEndpoint(id int64, body string) {
	i.t.Helper()
	req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/api/v1/admin/endpoints/%d", i.base, id), strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+rotationAPIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		i.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		i.t.Fatalf("PUT endpoint: %d", resp.StatusCode)
	}
}

func TestARotatedWebhookSecretVerifiesDuringItsGracePeriodOnly(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	d.env = map[string]string{"HANDOVER_ADMIN_API_KEY": rotationAPIKey, "HANDOVER_WEBHOOK_SECRET_GRACE": "1500ms"}
	// The store's clock, which the relay checks the grace period by: the
	// real one until the test moves it on past the grace period.
	var ahead atomic.Int64
	d.now = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())).UTC() }
	inst := d.start()
	inst.post("/"+d.endpoint.URLToken+"/handover", handoverBody("s1"))
	d.sandboxConversation(inst, "s1")
	oldSecret := d.secret

	const newSecret = "the-new-webhook-secret-after-rotation"
	inst.putEndpoint(d.endpoint.ID, `{"webhookSecret":"`+newSecret+`"}`)

	signed := func(secret, id string) int {
		d.secret = secret
		body, sig := d.signedWebhook(inst, "s1", id, "text "+id, time.Now())
		return inst.postWebhook(body, sig)
	}
	if status := signed(newSecret, "new-1"); status != http.StatusOK {
		t.Fatalf("new secret: %d", status)
	}
	if status := signed(oldSecret, "old-1"); status != http.StatusOK {
		t.Fatalf("old secret within the grace period: %d, want 200", status)
	}
	var detail string
	inst.srv.Store.ForEachWebhook(context.Background(), func(w store.Webhook) {
		if w.GenesysMessageID == "old-1" {
			detail = w.VerdictDetail
		}
	})
	if !strings.Contains(detail, "previous webhook secret") {
		t.Fatalf("the log does not say the previous secret verified it: %q", detail)
	}
	// Past the grace period: the store's clock moves on by more than it.
	ahead.Store(int64(1600 * time.Millisecond))
	if status := signed(oldSecret, "old-2"); status != http.StatusUnauthorized {
		t.Fatalf("old secret after the grace period: %d, want 401", status)
	}
	if status := signed(newSecret, "new-2"); status != http.StatusOK {
		t.Fatalf("new secret after the grace period: %d", status)
	}
}

func TestChangingTheOAuthClientSecretDropsNoMessageInFlight(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	d.env = map[string]string{"HANDOVER_ADMIN_API_KEY": rotationAPIKey}
	d.tune = scaledRelay
	inst := d.start()
	token := d.endpoint.URLToken
	inst.post("/"+token+"/handover", handoverBody("s1"))
	conv := d.sandboxConversation(inst, "s1")

	// Genesys is slow to answer while the admin rotates the client secret:
	// in Genesys first (the old secret stops working), then in Handover.
	g.SetFault(sandbox.Fault{Status: http.StatusServiceUnavailable, PathContains: "/inbound/"})
	var sent []string
	for i := range 5 {
		text := fmt.Sprintf("in flight %d", i)
		if status, _ := inst.post("/"+token, map[string]any{"userId": "u", "sessionId": "s1", "text": text}); status != http.StatusAccepted {
			t.Fatalf("%s: %d", text, status)
		}
		sent = append(sent, text)
	}
	refusedBefore := len(oldSecretRefusals(g))
	g.AddClient(e2eClientID, "the-rotated-client-secret")
	g.RevokeTokens()
	testkit.WaitFor(t, 5*time.Second, "an attempt that meets the old secret refused", func() bool {
		return len(oldSecretRefusals(g)) > refusedBefore
	})
	inst.putEndpoint(d.endpoint.ID, `{"clientSecret":"the-rotated-client-secret"}`)
	g.ClearFaults()

	testkit.WaitFor(t, 10*time.Second, "every message delivered with the new secret", func() bool {
		c, _ := g.Conversation(conv.ID)
		return len(customerTexts(c)) == len(sent)+1
	})
	c, _ := g.Conversation(conv.ID)
	if got := strings.Join(customerTexts(c)[1:], "|"); got != strings.Join(sent, "|") {
		t.Fatalf("Genesys has %q", got)
	}
	msgs, _ := inst.srv.Store.ConversationMessages(context.Background(), 1)
	for _, m := range msgs {
		if m.Delivery == store.DeliveryFailed {
			t.Fatalf("a message was given up during the rotation: %+v", m)
		}
	}
}

// oldSecretRefusals lists the token requests the sandbox refused for a bad
// client secret.
func oldSecretRefusals(g *genesysFake) []sandbox.RejectedRecord {
	var out []sandbox.RejectedRecord
	for _, r := range g.Rejected() {
		if strings.Contains(r.Path, "/oauth/token") && r.Code == "invalid_client" {
			out = append(out, r)
		}
	}
	return out
}
