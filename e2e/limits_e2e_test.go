package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/handover-relay/handover/internal/testkit"
	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

// Limits on the public surfaces (docs/security.md): a flood from one client
// gets 429 with Retry-After, counted across instances, while other clients
// and other endpoints are still served.

// limited is one client address's request to an instance, behind a trusted proxy.
func limited(t *testing.T, inst *instance, method, path, address string, body any) *http.Response {
	t.Helper()
	var reader *bytes.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		reader = bytes.NewReader(raw)
	} else {
		reader = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, inst.base+path, reader)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", address)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		defer resp.Body.Close()
	}
	return resp
}

// sameWindow tells whether from and to fall in one fixed window of the
// given length: the limits count per window, so a burst that straddles two
// may be allowed twice the limit.
func sameWindow(from, to time.Time, window time.Duration) bool {
	return from.Truncate(window).Equal(to.Truncate(window))
}

func TestFloodsGet429WithRetryAfterWhileOtherClientsAndEndpointsAreServed(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, dialect store.Dialect) {
		g := startSandbox(t, nil)
		d := newDeploymentOn(t, g, dialect)
		d.env = map[string]string{
			"HANDOVER_TRUSTED_PROXIES":              "127.0.0.1",
			"HANDOVER_LIMIT_HANDOVERS_PER_ADDRESS":  "5",
			"HANDOVER_LIMIT_HANDOVERS_PER_ENDPOINT": "100",
			"HANDOVER_LIMIT_MESSAGES_PER_SESSION":   "3",
			"HANDOVER_LIMIT_STREAMS_PER_ADDRESS":    "2",
		}
		instances := []*instance{d.start()}
		if dialect == store.Postgres {
			// Counted in the database: two instances share every count.
			instances = append(instances, d.startAt(testkit.FreeAddr(t)))
		}
		token := d.endpoint.URLToken
		const flooder, customer = "203.0.113.7", "198.51.100.9"

		// A handover flood from one address, over every instance.
		var accepted []string
		started := time.Now()
		for i := range 12 {
			sid := fmt.Sprintf("f%02d", i)
			resp := limited(t, instances[i%len(instances)], http.MethodPost, "/"+token+"/handover", flooder, map[string]any{"userId": "u" + sid, "sessionId": sid})
			switch resp.StatusCode {
			case http.StatusAccepted:
				accepted = append(accepted, sid)
			case http.StatusTooManyRequests:
				if after, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || after < 1 || after > 60 {
					t.Fatalf("429 with Retry-After %q", resp.Header.Get("Retry-After"))
				}
			default:
				t.Fatalf("handover %s: %d", sid, resp.StatusCode)
			}
		}
		if want := 5; sameWindow(started, time.Now(), time.Minute) && len(accepted) != want || len(accepted) < want || len(accepted) > 2*want {
			t.Fatalf("%d of 12 handovers from one address accepted across %d instances; want %d", len(accepted), len(instances), want)
		}
		// Another customer of the same endpoint is served.
		if resp := limited(t, instances[len(instances)-1], http.MethodPost, "/"+token+"/handover", customer, map[string]any{"userId": "u-c", "sessionId": "c"}); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("another address's handover during the flood: %d", resp.StatusCode)
		}
		// So are the flooding address's customers of another endpoint.
		other := store.Endpoint{OrganisationID: 1, Name: "Other", URLToken: secret.NewToken(32), Provider: store.ProviderGenesysCloudOM,
			Host: d.endpoint.Host, DeploymentName: d.endpoint.DeploymentName, QueueID: d.endpoint.QueueID, ClientID: d.endpoint.ClientID,
			ClientSecret: d.endpoint.ClientSecret, WebhookSecret: "other-webhook-secret-0123456789"}
		if err := instances[0].srv.Store.CreateEndpoint(context.Background(), &other); err != nil {
			t.Fatal(err)
		}
		if resp := limited(t, instances[0], http.MethodPost, "/"+other.URLToken+"/handover", flooder, map[string]any{"userId": "u-o", "sessionId": "o"}); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("the same address on another endpoint during the flood: %d", resp.StatusCode)
		}

		// Messages: at most 3 a second per session.
		session := accepted[0]
		var sent int
		from := time.Now()
		for i := range 10 {
			resp := limited(t, instances[i%len(instances)], http.MethodPost, "/"+token, flooder, map[string]any{"userId": "u" + session, "sessionId": session, "text": fmt.Sprintf("m%d", i)})
			switch resp.StatusCode {
			case http.StatusAccepted:
				sent++
			case http.StatusTooManyRequests:
				if resp.Header.Get("Retry-After") != "1" {
					t.Fatalf("a message over the limit: Retry-After %q, want 1", resp.Header.Get("Retry-After"))
				}
			default:
				t.Fatalf("message %d: %d", i, resp.StatusCode)
			}
		}
		if want := 3; sameWindow(from, time.Now(), time.Second) && sent != want || sent < want || sent > 4*want {
			t.Fatalf("%d of 10 messages in a burst accepted; want %d a second", sent, want)
		}

		// Event streams: at most 2 open per address.
		open := func(sid string) *http.Response {
			return limited(t, instances[0], http.MethodGet, "/"+token+"/sessions/"+sid+"/events", flooder, nil)
		}
		first, second := open(accepted[0]), open(accepted[1])
		for _, resp := range []*http.Response{first, second} {
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("one of the first two streams: %d", resp.StatusCode)
			}
		}
		third := open(accepted[2])
		if third.StatusCode != http.StatusTooManyRequests || third.Header.Get("Retry-After") == "" {
			t.Fatalf("a third stream from one address: %d (Retry-After %q), want 429", third.StatusCode, third.Header.Get("Retry-After"))
		}
		second.Body.Close()
		// Closed, a stream no longer counts: the third opens once the
		// server has noticed.
		testkit.WaitFor(t, 10*time.Second, "a stream slot freed by a closed stream", func() bool {
			resp := open(accepted[2])
			if resp.StatusCode == http.StatusOK {
				resp.Body.Close()
				return true
			}
			return false
		})
		first.Body.Close()
	})
}
