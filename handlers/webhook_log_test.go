package handlers_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store"
)

func TestATruncatedWebhookSaysHowMuchWasKeptAndCannotBeReplayed(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	body := append([]byte(`{"id":`), bytes.Repeat([]byte("9"), 1_000_000)...)
	res, err := a.relay.ReceiveWebhook(context.Background(), relay.IncomingWebhook{Body: body, ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	doc := a.document(a.get(fmt.Sprintf("/webhooks/%d", res.LogID)), http.StatusOK)
	want := fmt.Sprintf("First 4 KB of 1000006 bytes, SHA-256 %x.", sha256.Sum256(body))
	if got := doc.Find(`[data-testid="body-truncated"]`).Text(); !strings.HasPrefix(got, want) {
		t.Fatalf("the body says %q, want %q", got, want)
	}
	if n := len(doc.Find(`[data-testid="webhook-body"]`).Text()); n != relay.MaxRefusedBody {
		t.Fatalf("the page shows %d bytes of the body, want %d", n, relay.MaxRefusedBody)
	}
	if doc.Find(`[data-testid="replay-webhook"]`).Length() != 0 || doc.Find(`[data-testid="replay-unavailable"]`).Length() != 1 {
		t.Fatal("a truncated webhook offers a replay")
	}
	if doc.Find(`[data-testid="body-not-json"]`).Length() != 0 {
		t.Fatal("the start of a body is called not JSON")
	}

	// A replay asked for anyway (an old page, a crafted form) is refused in words.
	resp := a.postForm(fmt.Sprintf("/webhooks/%d/replay", res.LogID), url.Values{})
	if page := readBody(t, resp); resp.StatusCode != http.StatusConflict || !strings.Contains(page, "signature cannot be verified again") {
		t.Fatalf("replay: %d\n%s", resp.StatusCode, page)
	}
	if replays, _ := a.store.WebhookReplays(context.Background(), res.LogID); len(replays) != 0 {
		t.Fatalf("%d replays logged, want none", len(replays))
	}
}

func TestAWholeWebhookShowsItsLengthAndHashAndCanBeReplayed(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	e := a.consoleEndpoint("bot")
	w := a.agentWebhook(e, a.conversation(store.Conversation{EndpointID: e.ID, SessionID: "s1"}), "m1", "Hello")
	doc := a.document(a.get(fmt.Sprintf("/webhooks/%d", w.ID)), http.StatusOK)
	want := fmt.Sprintf("%d bytes, SHA-256 %x", len(w.Body), sha256.Sum256([]byte(w.Body)))
	if got := doc.Find(`[data-testid="body-digest"]`).Text(); got != want || doc.Find(`[data-testid="body-truncated"]`).Length() != 0 {
		t.Fatalf("the body says %q, want %q", got, want)
	}
	if doc.Find(`[data-testid="replay-webhook"]`).Length() != 1 {
		t.Fatal("a whole webhook offers no replay")
	}
}
