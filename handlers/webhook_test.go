package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/handover-relay/handover/store"
)

func TestRefusedWebhooksAreLoggedAtMostSixtyAMinutePerClientAddress(t *testing.T) {
	// app.Test connects from 0.0.0.0: trusting it makes X-Forwarded-For the client address.
	a := newTestApp(t, map[string]string{"HANDOVER_TRUSTED_PROXIES": "0.0.0.0"})
	post := func(client string) {
		t.Helper()
		resp := a.request(http.MethodPost, "/handover/genesysCloudOM", strings.NewReader("not json"), map[string]string{"Content-Type": "application/json", "X-Forwarded-For": client})
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("a malformed webhook from %s: %d, want 400", client, resp.StatusCode)
		}
	}
	for range 70 {
		post("203.0.113.7")
	}
	post("198.51.100.1")
	from := map[string]int{}
	a.store.ForEachWebhook(context.Background(), func(w store.Webhook) { from[w.Headers["X-Forwarded-For"]]++ })
	if from["203.0.113.7"] != 60 || from["198.51.100.1"] != 1 {
		t.Fatalf("rows by client %v, want 60 from 203.0.113.7 and 1 from 198.51.100.1", from)
	}
}
