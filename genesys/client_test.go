package genesys

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testClientID     = "relay-client-id"
	testClientSecret = "relay-client-secret"
	testIntegration  = "8a2b4c6d-1e3f-4a5b-8c7d-9e0f1a2b3c4d"
)

// recorded is one API request as the fake Genesys saw it.
type recorded struct {
	Method      string
	Path        string
	EscapedPath string
	Query       url.Values
	Header      http.Header
	Body        []byte
}

// fakeGenesys serves the token endpoint and the API over real loopback HTTP.
// It refuses bearer tokens it did not issue, answers the first unauthorized
// API calls with 401, and checks every request body against the Genesys
// schema, so a test passes only if the real API would have accepted the body.
type fakeGenesys struct {
	t    *testing.T
	srv  *httptest.Server
	spec *Spec

	mu            sync.Mutex
	expiresIn     int
	tokenHandler  http.HandlerFunc // replaces the token endpoint when set
	tokenRequests int
	issued        map[string]bool
	unauthorized  int // how many API calls still get a 401
	requests      []recorded
	api           func(w http.ResponseWriter, r *http.Request)
}

func newFakeGenesys(t *testing.T, api func(w http.ResponseWriter, r *http.Request)) *fakeGenesys {
	t.Helper()
	f := &fakeGenesys{t: t, spec: loadTestSpec(t), expiresIn: 86400, issued: map[string]bool{}, api: api}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGenesys) client(t *testing.T, now func() time.Time) *Client {
	t.Helper()
	c, err := NewClient(Config{
		Host: Host(f.srv.URL), ClientID: testClientID, ClientSecret: testClientSecret,
		HTTPClient: NewHTTPClient(), CallTimeout: 5 * time.Second, Now: now,
	})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func (f *fakeGenesys) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth/token" {
		f.serveToken(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	if !f.issued[token] && f.tokenHandler == nil {
		// Not this test's client: a request of another test (another
		// package's, running beside this one) to the server that had this
		// loopback port before. Refused, and kept out of what the test reads.
		f.mu.Unlock()
		writeJSON(w, http.StatusUnauthorized, ErrorBody{Status: 401, Code: "bad.credentials", Message: "Invalid login credentials."})
		return
	}
	f.requests = append(f.requests, recorded{r.Method, r.URL.Path, r.URL.EscapedPath(), r.URL.Query(), r.Header.Clone(), body})
	refuse := !f.issued[token] || f.unauthorized > 0
	if f.unauthorized > 0 {
		f.unauthorized--
	}
	f.mu.Unlock()

	if refuse {
		writeJSON(w, http.StatusUnauthorized, ErrorBody{Status: 401, Code: "bad.credentials", Message: "Invalid login credentials.", ContextID: "ctx-401"})
		return
	}
	if schema := requestSchema(r.Method, r.URL.Path); schema != "" {
		if err := f.spec.ValidateRequestBody(schema, body); err != nil {
			f.t.Errorf("%s %s: Genesys would refuse this body: %v\n%s", r.Method, r.URL.Path, err, body)
			writeJSON(w, http.StatusBadRequest, ErrorBody{Status: 400, Code: "bad.request", Message: err.Error()})
			return
		}
	}
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	f.api(w, r)
}

func (f *fakeGenesys) serveToken(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.tokenRequests++
	n, custom := f.tokenRequests, f.tokenHandler
	f.mu.Unlock()
	if custom != nil {
		custom(w, r)
		return
	}
	id, secret, ok := r.BasicAuth()
	if r.Method != http.MethodPost || !ok || id != testClientID || secret != testClientSecret {
		f.t.Errorf("token request: method %s, basic auth %q:%q (ok %v)", r.Method, id, secret, ok)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		f.t.Errorf("token request Content-Type = %q", ct)
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Has("client_secret") {
		f.t.Errorf("token request form = %v (%v); want grant_type=client_credentials and no secret in the body", r.PostForm, err)
	}
	token := fmt.Sprintf("token-%d", n)
	f.mu.Lock()
	f.issued[token] = true
	expiresIn := f.expiresIn
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": token, "token_type": "bearer", "expires_in": expiresIn})
}

func (f *fakeGenesys) counts() (tokens, api int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenRequests, len(f.requests)
}

func (f *fakeGenesys) recorded() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

func requestSchema(method, path string) string {
	switch {
	case method == http.MethodPost && strings.HasSuffix(path, "/inbound/open/message"):
		return "OpenInboundNormalizedMessage"
	case method == http.MethodPost && strings.HasSuffix(path, "/inbound/open/event"):
		return "OpenInboundNormalizedEvent"
	case method == http.MethodPost && strings.HasSuffix(path, "/inbound/open/receipt"):
		return "OpenInboundNormalizedReceipt"
	case method == http.MethodPost && strings.HasSuffix(path, "/inbound/open/structured/response"):
		return "OpenInboundStructuredResponseMessage"
	case method == http.MethodPatch && strings.Contains(path, "/participants/"):
		return "MediaParticipantRequest"
	case method == http.MethodPost && path == "/api/v2/analytics/queues/observations/query":
		return "QueueObservationQuery"
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func answer(status int, v any) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, status, v) }
}

// exampleMessageResponse is the answer of docs/genesys.md §Inbound.
const exampleMessageResponse = `{
  "id": "c6f1b3b0a1d94b3e8f4c2e1a9d7b6c5e",
  "channel": {
    "id": "8a2b4c6d-1e3f-4a5b-8c7d-9e0f1a2b3c4d", "platform": "Open", "type": "Private",
    "messageId": "bot-7f3c2a10-0001",
    "to":   { "id": "8a2b4c6d-1e3f-4a5b-8c7d-9e0f1a2b3c4d" },
    "from": { "id": "relay-7f3c2a10-5b6e-4d0a-9c1b-2f3e4d5a6b7c", "idType": "Opaque", "nickname": "Jane Doe" },
    "time": "2025-01-15T10:21:33.123Z"
  },
  "type": "Text",
  "text": "I want to talk to a human about my invoice.",
  "conversationId": "5e1f0c2d-3b4a-4c5d-8e6f-7a8b9c0d1e2f"
}`

func TestClientGetsOneTokenWithBasicAuthAndReusesItForSeveralCalls(t *testing.T) {
	fake := newFakeGenesys(t, answer(http.StatusOK, map[string]any{"id": "m"}))
	c := fake.client(t, nil)
	ctx := t.Context()
	for range 3 {
		if _, err := c.SendMessage(ctx, testIntegration, exampleMessage(), false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.GetConversation(ctx, "conv-1"); err != nil {
		t.Fatal(err)
	}
	if tokens, api := fake.counts(); tokens != 1 || api != 4 {
		t.Errorf("token requests = %d, API requests = %d; want 1 and 4", tokens, api)
	}
	for _, r := range fake.recorded() {
		if got := r.Header.Get("Authorization"); got != "Bearer token-1" {
			t.Errorf("%s %s: Authorization = %q", r.Method, r.Path, got)
		}
	}
}

func TestConcurrentCallsShareOneTokenRequest(t *testing.T) {
	fake := newFakeGenesys(t, answer(http.StatusOK, map[string]any{"id": "m"}))
	c := fake.client(t, nil)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := c.SendMessage(t.Context(), testIntegration, exampleMessage(), false); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if tokens, api := fake.counts(); tokens != 1 || api != 10 {
		t.Errorf("token requests = %d, API requests = %d; want 1 and 10", tokens, api)
	}
}

func TestClientRenewsTheTokenShortlyBeforeItExpires(t *testing.T) {
	fake := newFakeGenesys(t, answer(http.StatusOK, map[string]any{"id": "m"}))
	fake.expiresIn = 3600
	now := time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC)
	c := fake.client(t, func() time.Time { return now })
	call := func() {
		t.Helper()
		if _, err := c.GetConversation(t.Context(), "conv-1"); err != nil {
			t.Fatal(err)
		}
	}
	call()
	now = now.Add(58 * time.Minute)
	call()
	if tokens, _ := fake.counts(); tokens != 1 {
		t.Fatalf("after 58 minutes: %d token requests, want 1", tokens)
	}
	now = now.Add(90 * time.Second) // within the last minute of the hour
	call()
	if tokens, _ := fake.counts(); tokens != 2 {
		t.Fatalf("after 59.5 minutes: %d token requests, want 2", tokens)
	}
}

func TestA401DropsTheTokenAndRetriesOnceWithAFreshOne(t *testing.T) {
	fake := newFakeGenesys(t, answer(http.StatusOK, map[string]any{"id": "m"}))
	fake.unauthorized = 1
	c := fake.client(t, nil)
	if _, err := c.SendMessage(t.Context(), testIntegration, exampleMessage(), false); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	reqs := fake.recorded()
	if tokens, _ := fake.counts(); tokens != 2 || len(reqs) != 2 {
		t.Fatalf("token requests = %d, API requests = %d; want 2 and 2", tokens, len(reqs))
	}
	if a, b := reqs[0].Header.Get("Authorization"), reqs[1].Header.Get("Authorization"); a != "Bearer token-1" || b != "Bearer token-2" {
		t.Errorf("Authorization headers = %q, %q; want token-1 then token-2", a, b)
	}
	if string(reqs[0].Body) != string(reqs[1].Body) {
		t.Errorf("the retry sent a different body:\n%s\n%s", reqs[0].Body, reqs[1].Body)
	}
}

func TestASecond401IsReturnedAsANonRetryableError(t *testing.T) {
	fake := newFakeGenesys(t, answer(http.StatusOK, map[string]any{"id": "m"}))
	fake.unauthorized = 5
	c := fake.client(t, nil)
	_, err := c.SendMessage(t.Context(), testIntegration, exampleMessage(), false)
	apiErr, ok := errors.AsType[*APIError](err)
	if !ok || apiErr.Status != http.StatusUnauthorized {
		t.Fatalf("error = %v, want an *APIError with status 401", err)
	}
	if IsRetryable(err) {
		t.Error("a 401 after a fresh token should not be retryable")
	}
	if tokens, api := fake.counts(); tokens != 2 || api != 2 {
		t.Errorf("token requests = %d, API requests = %d; want 2 and 2", tokens, api)
	}
}

func TestRefusedClientCredentialsAreReportedInPlainWordsAndNotRetried(t *testing.T) {
	fake := newFakeGenesys(t, answer(http.StatusOK, nil))
	fake.tokenHandler = answer(http.StatusBadRequest, map[string]string{"error": "invalid_client", "error_description": "client not found"})
	c := fake.client(t, nil)
	_, err := c.SendMessage(t.Context(), testIntegration, exampleMessage(), false)
	apiErr, ok := errors.AsType[*APIError](err)
	if !ok || apiErr.Code != "invalid_client" {
		t.Fatalf("error = %v, want an *APIError with code invalid_client", err)
	}
	for _, want := range []string{"client id or secret", "client not found", "/oauth/token"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q should mention %q", err, want)
		}
	}
	if IsRetryable(err) {
		t.Error("bad credentials should not be retryable")
	}
	if _, api := fake.counts(); api != 0 {
		t.Errorf("%d API requests without a token", api)
	}
}

func TestATokenEndpointOutageIsRetryable(t *testing.T) {
	fake := newFakeGenesys(t, answer(http.StatusOK, nil))
	fake.tokenHandler = func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "3")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
	}
	c := fake.client(t, nil)
	_, err := c.GetConversation(t.Context(), "conv-1")
	apiErr, ok := errors.AsType[*APIError](err)
	if !ok || apiErr.Status != http.StatusServiceUnavailable || apiErr.RetryAfter != 3*time.Second {
		t.Fatalf("error = %#v", err)
	}
	if !IsRetryable(err) {
		t.Error("a 503 from the token endpoint should be retryable")
	}
}

// integrationPages serves the given pages of integration names, 1-based.
func integrationPages(t *testing.T, pages ...[]string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/conversations/messaging/integrations/open" {
			t.Errorf("unexpected path %s", r.URL.Path)
		}
		n := 0
		fmt.Sscan(r.URL.Query().Get("pageNumber"), &n)
		listing := IntegrationListing{PageSize: 100, PageNumber: n, PageCount: len(pages), Entities: []Integration{}}
		if n >= 1 && n <= len(pages) {
			for i, name := range pages[n-1] {
				listing.Entities = append(listing.Entities, Integration{
					ID: fmt.Sprintf("id-%d-%d", n, i), Name: name,
					OutboundNotificationWebhookURL: "https://relay.example.com/genesys/webhook",
				})
			}
		}
		for _, p := range pages {
			listing.Total += int64(len(p))
		}
		if n < len(pages) {
			listing.NextURI = fmt.Sprintf("/api/v2/conversations/messaging/integrations/open?pageSize=100&pageNumber=%d", n+1)
		}
		writeJSON(w, http.StatusOK, listing)
	}
}

func TestResolveIntegrationPagesThroughTheListingUntilItFindsTheName(t *testing.T) {
	fake := newFakeGenesys(t, nil)
	fake.api = integrationPages(t, []string{"web-chat", "whatsapp"}, []string{"sms-relay", "bot-relay-test"}, []string{"bot-relay-prod"})
	c := fake.client(t, nil)
	in, err := c.ResolveIntegration(t.Context(), "bot-relay-prod")
	if err != nil {
		t.Fatalf("ResolveIntegration: %v", err)
	}
	if in.ID != "id-3-0" || in.Name != "bot-relay-prod" || in.OutboundNotificationWebhookURL == "" {
		t.Errorf("integration = %+v", in)
	}
	reqs := fake.recorded()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for i, r := range reqs {
		want := url.Values{"pageSize": {"100"}, "pageNumber": {fmt.Sprint(i + 1)}}
		if r.Method != http.MethodGet || !reflect.DeepEqual(r.Query, want) {
			t.Errorf("request %d: %s ?%v, want GET ?%v", i+1, r.Method, r.Query, want)
		}
	}
}

func TestResolveIntegrationPrefersAnExactNameToACaseInsensitiveOne(t *testing.T) {
	tests := []struct {
		name    string
		pages   [][]string
		want    string
		wantErr string
	}{
		{"exact match on a later page wins", [][]string{{"Bot-Relay"}, {"bot-relay"}}, "id-2-0", ""},
		{"case-insensitive match when there is no exact one", [][]string{{"web"}, {"BOT-RELAY"}}, "id-2-0", ""},
		{"two case-insensitive matches are ambiguous", [][]string{{"Bot-Relay", "BOT-RELAY"}}, "", "only in case"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeGenesys(t, nil)
			fake.api = integrationPages(t, tt.pages...)
			in, err := fake.client(t, nil).ResolveIntegration(t.Context(), "bot-relay")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || in.ID != tt.want {
				t.Fatalf("got %+v, %v; want %s", in, err, tt.want)
			}
		})
	}
}

func TestResolveIntegrationNotFoundNamesTheDeploymentAndWhatExists(t *testing.T) {
	var names []string
	for i := range 13 {
		names = append(names, fmt.Sprintf("integration-%02d", i))
	}
	fake := newFakeGenesys(t, nil)
	fake.api = integrationPages(t, names[:5], names[5:10], names[10:])
	_, err := fake.client(t, nil).ResolveIntegration(t.Context(), "bot-relay-prod")
	if !errors.Is(err, ErrIntegrationNotFound) {
		t.Fatalf("error = %v, want ErrIntegrationNotFound", err)
	}
	msg := err.Error()
	for _, want := range []string{`"bot-relay-prod"`, `"integration-00"`, `"integration-09"`, "and 3 more"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q should mention %s", msg, want)
		}
	}
	if strings.Contains(msg, "integration-10") {
		t.Errorf("error %q lists more than ten names", msg)
	}
	if _, api := fake.counts(); api != 3 {
		t.Errorf("%d requests, want exactly the 3 pages", api)
	}
}

func TestResolveIntegrationInAnOrgWithoutIntegrationsSaysSo(t *testing.T) {
	fake := newFakeGenesys(t, nil)
	fake.api = integrationPages(t)
	_, err := fake.client(t, nil).ResolveIntegration(t.Context(), "bot-relay-prod")
	if !errors.Is(err, ErrIntegrationNotFound) || !strings.Contains(err.Error(), "no Open Messaging integrations yet") {
		t.Fatalf("error = %v", err)
	}
}

func TestRateLimitIsRetryableAfterTheTimeGenesysAsks(t *testing.T) {
	fake := newFakeGenesys(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "7")
		writeJSON(w, http.StatusTooManyRequests, ErrorBody{
			Status: 429, Code: "too.many.requests", ContextID: "ctx-429",
			Message: "Rate limit exceeded the maximum [300] requests within [60] seconds",
		})
	})
	_, err := fake.client(t, nil).SendMessage(t.Context(), testIntegration, exampleMessage(), false)
	apiErr, ok := errors.AsType[*APIError](err)
	if !ok {
		t.Fatalf("error = %v, want *APIError", err)
	}
	if apiErr.Status != 429 || apiErr.Code != "too.many.requests" || apiErr.RetryAfter != 7*time.Second || apiErr.ContextID != "ctx-429" {
		t.Errorf("APIError = %+v", apiErr)
	}
	if !apiErr.Retryable() || !IsRetryable(err) {
		t.Error("a 429 should be retryable")
	}
	if _, api := fake.counts(); api != 1 {
		t.Errorf("%d attempts, want exactly 1: retrying is the outbox's job", api)
	}
}

func TestRetryAfterGivenAsAnHTTPDateIsReadAgainstTheClock(t *testing.T) {
	now := time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC)
	fake := newFakeGenesys(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", now.Add(90*time.Second).Format(http.TimeFormat))
		writeJSON(w, http.StatusServiceUnavailable, ErrorBody{Status: 503, Code: "service.unavailable"})
	})
	_, err := fake.client(t, func() time.Time { return now }).GetConversation(t.Context(), "conv-1")
	if apiErr, ok := errors.AsType[*APIError](err); !ok || apiErr.RetryAfter != 90*time.Second {
		t.Fatalf("error = %#v, want RetryAfter 90s", err)
	}
}

func TestServerErrorsAreRetryableAndClientErrorsAreNot(t *testing.T) {
	tests := []struct {
		status    int
		retryable bool
	}{
		{http.StatusBadRequest, false},
		{http.StatusForbidden, false},
		{http.StatusNotFound, false},
		{http.StatusRequestTimeout, true},
		{http.StatusInternalServerError, true},
		{http.StatusBadGateway, true},
		{http.StatusServiceUnavailable, true},
		{http.StatusGatewayTimeout, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			fake := newFakeGenesys(t, answer(tt.status, ErrorBody{Status: tt.status, Code: "some.code", Message: "something"}))
			_, err := fake.client(t, nil).SendMessage(t.Context(), testIntegration, exampleMessage(), false)
			apiErr, ok := errors.AsType[*APIError](err)
			if !ok || apiErr.Status != tt.status {
				t.Fatalf("error = %v", err)
			}
			if got := IsRetryable(err); got != tt.retryable {
				t.Errorf("IsRetryable = %v, want %v", got, tt.retryable)
			}
			if _, api := fake.counts(); api != 1 {
				t.Errorf("%d attempts, want 1", api)
			}
		})
	}
}

func TestABadRequestSurfacesTheGenesysMessageAndContextID(t *testing.T) {
	fake := newFakeGenesys(t, answer(http.StatusBadRequest, ErrorBody{
		Status: 400, Code: "bad.request", ContextID: "be93021b-0c1d-4e5f-8a9b-0c1d2e3f4a5b",
		Message: "The request could not be understood by the server due to malformed syntax.",
	}))
	_, err := fake.client(t, nil).SendMessage(t.Context(), testIntegration, exampleMessage(), false)
	apiErr, ok := errors.AsType[*APIError](err)
	if !ok || apiErr.Code != "bad.request" || apiErr.ContextID != "be93021b-0c1d-4e5f-8a9b-0c1d2e3f4a5b" {
		t.Fatalf("error = %#v", err)
	}
	for _, want := range []string{"malformed syntax", "be93021b-0c1d-4e5f-8a9b-0c1d2e3f4a5b", "send message to integration " + testIntegration} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q should mention %q", err, want)
		}
	}
	if IsRetryable(err) {
		t.Error("a 400 should not be retryable")
	}
}

func TestAnErrorPageThatIsNotAnErrorBodyIsStillReported(t *testing.T) {
	fake := newFakeGenesys(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, "<html><body>502 Bad Gateway</body></html>")
	})
	_, err := fake.client(t, nil).GetConversation(t.Context(), "conv-1")
	if apiErr, ok := errors.AsType[*APIError](err); !ok || apiErr.Status != 502 || !strings.Contains(apiErr.Message, "502 Bad Gateway") {
		t.Fatalf("error = %#v", err)
	}
}

func TestSendMessageAsksForTheConversationIDOnlyWhenTold(t *testing.T) {
	fake := newFakeGenesys(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, exampleMessageResponse)
	})
	c := fake.client(t, nil)
	resp, err := c.SendMessage(t.Context(), testIntegration, exampleMessage(), true)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ConversationID != "5e1f0c2d-3b4a-4c5d-8e6f-7a8b9c0d1e2f" || resp.ID != "c6f1b3b0a1d94b3e8f4c2e1a9d7b6c5e" || resp.Channel.From.Nickname != "Jane Doe" {
		t.Errorf("response = %+v", resp)
	}
	if _, err := c.SendMessage(t.Context(), testIntegration, exampleMessage(), false); err != nil {
		t.Fatal(err)
	}
	reqs := fake.recorded()
	if len(reqs) != 2 {
		t.Fatalf("%d requests recorded, want 2: %+v", len(reqs), reqs)
	}
	if got := reqs[0].Query; !reflect.DeepEqual(got, url.Values{"prefetchConversationId": {"true"}}) {
		t.Errorf("with prefetch: %s %s query = %v", reqs[0].Method, reqs[0].Path, got)
	}
	if got := reqs[1].Query; len(got) != 0 {
		t.Errorf("without prefetch: %s %s query = %v, want none", reqs[1].Method, reqs[1].Path, got)
	}
}

func TestSendMessageStampsTheClockWhenTheMessageHasNoTime(t *testing.T) {
	fake := newFakeGenesys(t, answer(http.StatusOK, map[string]any{"id": "m"}))
	now := time.Date(2025, 1, 15, 10, 21, 33, 123456789, time.UTC)
	msg := exampleMessage()
	msg.Channel.Time = Timestamp{}
	if _, err := fake.client(t, func() time.Time { return now }).SendMessage(t.Context(), testIntegration, msg, false); err != nil {
		t.Fatal(err)
	}
	var sent struct {
		Channel struct{ Time string } `json:"channel"`
	}
	if err := json.Unmarshal(fake.recorded()[0].Body, &sent); err != nil || sent.Channel.Time != "2025-01-15T10:21:33.123Z" {
		t.Errorf("channel.time = %q (%v), want 2025-01-15T10:21:33.123Z", sent.Channel.Time, err)
	}
}

func TestEachCallUsesItsExactPathMethodHeadersAndBody(t *testing.T) {
	receiptChannel := ReceiptChannel{To: Recipient{ID: "relay-7f3c2a10", IDType: IDTypeOpaque}, Time: exampleTime}
	from := Recipient{ID: "relay-7f3c2a10", IDType: IDTypeOpaque}
	tests := []struct {
		name     string
		call     func(ctx context.Context, c *Client) error
		method   string
		path     string
		wantBody string // JSON, compared as values; "" for none
	}{
		{
			"send message",
			func(ctx context.Context, c *Client) error {
				_, err := c.SendMessage(ctx, testIntegration, InboundMessage{
					Channel: InboundChannel{MessageID: "bot-1", From: from, Time: exampleTime,
						Metadata: &ChannelMetadata{CustomAttributes: map[string]string{"language": "de-DE"}}},
					Text: "hello",
				}, false)
				return err
			},
			http.MethodPost, "/api/v2/conversations/messages/" + testIntegration + "/inbound/open/message",
			`{"channel":{"messageId":"bot-1","from":{"id":"relay-7f3c2a10","idType":"Opaque"},"time":"2025-01-15T10:21:33.123Z","metadata":{"customAttributes":{"language":"de-DE"}}},"text":"hello"}`,
		},
		{
			"send typing event",
			func(ctx context.Context, c *Client) error {
				_, err := c.SendEvent(ctx, testIntegration, InboundEvent{
					Channel: InboundEventChannel{From: from, Time: exampleTime},
					Events:  []Event{{EventType: EventTypeTyping}},
				})
				return err
			},
			http.MethodPost, "/api/v2/conversations/messages/" + testIntegration + "/inbound/open/event",
			`{"channel":{"from":{"id":"relay-7f3c2a10","idType":"Opaque"},"time":"2025-01-15T10:21:33.123Z"},"events":[{"eventType":"Typing"}]}`,
		},
		{
			"send receipt",
			func(ctx context.Context, c *Client) error {
				_, err := c.SendReceipt(ctx, testIntegration, InboundReceipt{
					ID: "9b8a7c6d", Channel: receiptChannel, Status: ReceiptFailed, IsFinalReceipt: true,
					Reasons: []Reason{{Code: ReasonGeneralError, Message: "end user session closed before delivery"}},
				})
				return err
			},
			http.MethodPost, "/api/v2/conversations/messages/" + testIntegration + "/inbound/open/receipt",
			`{"id":"9b8a7c6d","channel":{"to":{"id":"relay-7f3c2a10","idType":"Opaque"},"time":"2025-01-15T10:21:33.123Z"},"status":"Failed","reasons":[{"code":"GeneralError","message":"end user session closed before delivery"}],"isFinalReceipt":true}`,
		},
		{
			"send structured response",
			func(ctx context.Context, c *Client) error {
				_, err := c.SendStructuredResponse(ctx, testIntegration, InboundStructuredResponse{
					Channel:              InboundChannel{MessageID: "bot-7", From: from, Time: exampleTime},
					ButtonResponse:       ButtonResponse{Type: ButtonTypeQuickReply, Text: "Yes", Payload: "YES"},
					OriginatingMessageID: "0d9c8b7a",
				})
				return err
			},
			http.MethodPost, "/api/v2/conversations/messages/" + testIntegration + "/inbound/open/structured/response",
			`{"channel":{"messageId":"bot-7","from":{"id":"relay-7f3c2a10","idType":"Opaque"},"time":"2025-01-15T10:21:33.123Z"},"buttonResponse":{"type":"QuickReply","text":"Yes","payload":"YES"},"originatingMessageId":"0d9c8b7a"}`,
		},
		{
			"get conversation",
			func(ctx context.Context, c *Client) error {
				_, err := c.GetConversation(ctx, "5e1f0c2d")
				return err
			},
			http.MethodGet, "/api/v2/conversations/messages/5e1f0c2d", "",
		},
		{
			"disconnect participant",
			func(ctx context.Context, c *Client) error {
				return c.DisconnectParticipant(ctx, "5e1f0c2d", "0a1b2c3d")
			},
			http.MethodPatch, "/api/v2/conversations/messages/5e1f0c2d/participants/0a1b2c3d",
			`{"state":"disconnected"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeGenesys(t, answer(http.StatusOK, map[string]any{"id": "x"}))
			if err := tt.call(t.Context(), fake.client(t, nil)); err != nil {
				t.Fatal(err)
			}
			reqs := fake.recorded()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != tt.method || r.Path != tt.path {
				t.Errorf("request = %s %s, want %s %s", r.Method, r.Path, tt.method, tt.path)
			}
			for header, want := range map[string]string{
				"Authorization": "Bearer token-1",
				"Accept":        "application/json",
				"Content-Type":  "application/json",
			} {
				if got := r.Header.Get(header); got != want {
					t.Errorf("%s = %q, want %q", header, got, want)
				}
			}
			if tt.wantBody == "" {
				if len(r.Body) != 0 {
					t.Errorf("body = %s, want none", r.Body)
				}
				return
			}
			var got, want any
			if err := json.Unmarshal(r.Body, &got); err != nil {
				t.Fatalf("body is not JSON: %v\n%s", err, r.Body)
			}
			json.Unmarshal([]byte(tt.wantBody), &want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("body = %s\nwant   %s", r.Body, tt.wantBody)
			}
		})
	}
}

func TestIDsAreEscapedInPaths(t *testing.T) {
	fake := newFakeGenesys(t, answer(http.StatusOK, map[string]any{"id": "x"}))
	if _, err := fake.client(t, nil).GetConversation(t.Context(), "a/../b"); err != nil {
		t.Fatal(err)
	}
	if got := fake.recorded()[0].EscapedPath; got != "/api/v2/conversations/messages/a%2F..%2Fb" {
		t.Errorf("path = %q, want the id as one escaped segment", got)
	}
}

func TestMissingIDsAreRefusedWithoutARequest(t *testing.T) {
	fake := newFakeGenesys(t, answer(http.StatusOK, nil))
	c := fake.client(t, nil)
	ctx := t.Context()
	if _, err := c.SendMessage(ctx, "", exampleMessage(), false); err == nil {
		t.Error("SendMessage without integration id succeeded")
	}
	if _, err := c.GetConversation(ctx, ""); err == nil {
		t.Error("GetConversation without id succeeded")
	}
	if err := c.DisconnectParticipant(ctx, "conv", ""); err == nil {
		t.Error("DisconnectParticipant without participant id succeeded")
	}
	if tokens, api := fake.counts(); tokens+api != 0 {
		t.Errorf("%d token and %d API requests, want none", tokens, api)
	}
}

func TestGetConversationReadsTheParticipants(t *testing.T) {
	fake := newFakeGenesys(t, func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{ "id": "5e1f0c2d-3b4a-4c5d-8e6f-7a8b9c0d1e2f",
  "participants": [
    { "id": "0a1b2c3d-1111-4a4a-8b8b-000000000001", "purpose": "customer", "state": "connected", "direction": "inbound",
      "connectedTime": "2025-01-15T10:21:33.600Z", "attributes": { "botSessionId": "7f3c2a10" } },
    { "id": "0a1b2c3d-3333-4a4a-8b8b-000000000003", "purpose": "agent", "state": "disconnected", "disconnectType": "client",
      "user": { "id": "9c8b7a65-4321-4fed-8cba-0987654321ab" }, "queue": { "id": "3b9e2f10-6c1d-4a7e-9f02-5d8c7b6a4e31" },
      "connectedTime": "2025-01-15T10:23:02.000Z", "endTime": "2025-01-15T10:31:40.000Z",
      "wrapupRequired": true, "startAcwTime": "2025-01-15T10:31:40.000Z" } ] }`)
	})
	conv, err := fake.client(t, nil).GetConversation(t.Context(), "5e1f0c2d-3b4a-4c5d-8e6f-7a8b9c0d1e2f")
	if err != nil {
		t.Fatal(err)
	}
	if len(conv.Participants) != 2 {
		t.Fatalf("participants = %+v", conv.Participants)
	}
	agent := conv.Participants[1]
	if agent.Purpose != "agent" || agent.State != ParticipantStateDisconnected || agent.DisconnectType != "client" ||
		agent.User == nil || agent.User.ID != "9c8b7a65-4321-4fed-8cba-0987654321ab" || agent.Queue == nil ||
		!agent.EndTime.Equal(time.Date(2025, 1, 15, 10, 31, 40, 0, time.UTC)) || !agent.WrapupRequired {
		t.Errorf("agent = %+v", agent)
	}
	if conv.Participants[0].Attributes["botSessionId"] != "7f3c2a10" {
		t.Errorf("customer attributes = %v", conv.Participants[0].Attributes)
	}
}

func TestATimeoutIsARetryableTransportError(t *testing.T) {
	release := make(chan struct{})
	fake := newFakeGenesys(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	c, err := NewClient(Config{
		Host: Host(fake.srv.URL), ClientID: testClientID, ClientSecret: testClientSecret,
		HTTPClient: NewHTTPClient(), CallTimeout: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SendMessage(t.Context(), testIntegration, exampleMessage(), false)
	if _, ok := errors.AsType[*TransportError](err); !ok || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want a *TransportError wrapping the deadline", err)
	}
	if !IsRetryable(err) {
		t.Error("a timeout should be retryable")
	}
}

func TestAResetConnectionIsARetryableTransportError(t *testing.T) {
	fake := newFakeGenesys(t, func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
	})
	_, err := fake.client(t, nil).SendMessage(t.Context(), testIntegration, exampleMessage(), false)
	if _, ok := errors.AsType[*TransportError](err); !ok || !IsRetryable(err) {
		t.Fatalf("error = %v, want a retryable *TransportError", err)
	}
}

func TestAnUnreachableGenesysIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	host := Host(srv.URL)
	srv.Close()
	c, err := NewClient(Config{Host: host, ClientID: testClientID, ClientSecret: testClientSecret, HTTPClient: NewHTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetConversation(t.Context(), "conv-1")
	if _, ok := errors.AsType[*TransportError](err); !ok || !IsRetryable(err) {
		t.Fatalf("error = %v, want a retryable *TransportError", err)
	}
}

func TestAnUnreadableSuccessIsNotRetried(t *testing.T) {
	// Genesys has taken the message; sending it again would duplicate it.
	fake := newFakeGenesys(t, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "OK") })
	_, err := fake.client(t, nil).SendMessage(t.Context(), testIntegration, exampleMessage(), false)
	if err == nil || IsRetryable(err) {
		t.Fatalf("error = %v, want a non-retryable error", err)
	}
}

func TestAnOversizedAnswerIsRefused(t *testing.T) {
	fake := newFakeGenesys(t, func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{"id":"`+strings.Repeat("x", maxResponseBytes)+`"}`)
	})
	_, err := fake.client(t, nil).GetConversation(t.Context(), "conv-1")
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("error = %v", err)
	}
}

func TestNewClientRequiresHostAndCredentials(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no host", Config{ClientID: "id", ClientSecret: "secret"}},
		{"no client id", Config{Host: "mypurecloud.de", ClientSecret: "secret"}},
		{"no client secret", Config{Host: "mypurecloud.de", ClientID: "id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewClient(tt.cfg); err == nil {
				t.Error("NewClient accepted an incomplete config")
			}
		})
	}
}

func TestIsRetryableClassifiesErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain error", errors.New("boom"), false},
		{"wrapped 429", fmt.Errorf("send: %w", &APIError{Status: 429}), true},
		{"wrapped 404", fmt.Errorf("send: %w", &APIError{Status: 404}), false},
		{"transport error", &TransportError{Op: "GET /x", Err: io.ErrUnexpectedEOF}, true},
		{"deadline", fmt.Errorf("wait: %w", context.DeadlineExceeded), true},
		{"cancelled", context.Canceled, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsRetryable(tt.err); got != tt.want {
				t.Errorf("IsRetryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// The official SDK sends Basic base64(id:secret) and only the grant type in the form.
func TestTokenRequestCarriesTheCredentialsOnlyInTheBasicHeader(t *testing.T) {
	var header string
	fake := newFakeGenesys(t, answer(http.StatusOK, map[string]any{"id": "m"}))
	fake.tokenHandler = func(w http.ResponseWriter, r *http.Request) {
		header = r.Header.Get("Authorization")
		r.ParseForm()
		if got := r.PostForm.Encode(); got != "grant_type=client_credentials" {
			t.Errorf("token form = %q, want grant_type=client_credentials only", got)
		}
		writeJSON(w, http.StatusOK, map[string]any{"access_token": "t", "token_type": "bearer", "expires_in": 86400})
	}
	fake.issued["t"] = true
	if _, err := fake.client(t, nil).GetConversation(t.Context(), "conv-1"); err != nil {
		t.Fatal(err)
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(testClientID+":"+testClientSecret))
	if header != want {
		t.Errorf("token Authorization = %q, want %q", header, want)
	}
}

func TestOnCallIsToldOfEveryRequestTheTokenAndTheRetryIncluded(t *testing.T) {
	fake := newFakeGenesys(t, answer(http.StatusAccepted, map[string]any{"id": "m"}))
	fake.unauthorized = 1
	var mu sync.Mutex
	var calls []Call
	c, err := NewClient(Config{
		Host: Host(fake.srv.URL), ClientID: testClientID, ClientSecret: testClientSecret,
		HTTPClient: NewHTTPClient(), CallTimeout: 5 * time.Second,
		OnCall: func(_ context.Context, call Call) {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, call)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendMessage(t.Context(), testIntegration, exampleMessage(), false); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	send := "/api/v2/conversations/messages/" + testIntegration + "/inbound/open/message"
	want := []struct {
		path   string
		status int
		failed bool
	}{
		{"/oauth/token", 200, false},
		{send, 401, true},
		{"/oauth/token", 200, false},
		{send, 202, false},
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != len(want) {
		t.Fatalf("OnCall saw %d calls, want %d: %+v", len(calls), len(want), calls)
	}
	for i, w := range want {
		got := calls[i]
		if got.Method != http.MethodPost || got.Path != w.path || got.Status != w.status || (got.Err != nil) != w.failed || got.Latency <= 0 {
			t.Errorf("call %d = %+v, want POST %s %d (failed %v) with a latency", i, got, w.path, w.status, w.failed)
		}
	}
}

func TestOnCallSeesARefusedTokenWithItsStatus(t *testing.T) {
	fake := newFakeGenesys(t, answer(http.StatusOK, nil))
	fake.tokenHandler = answer(http.StatusBadRequest, map[string]string{"error": "invalid_client"})
	var seen []Call
	c, err := NewClient(Config{
		Host: Host(fake.srv.URL), ClientID: testClientID, ClientSecret: testClientSecret,
		HTTPClient: NewHTTPClient(), CallTimeout: 5 * time.Second,
		OnCall: func(_ context.Context, call Call) { seen = append(seen, call) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckToken(t.Context()); err == nil {
		t.Fatal("CheckToken accepted refused credentials")
	}
	if len(seen) != 1 || seen[0].Path != "/oauth/token" || seen[0].Status != http.StatusBadRequest || seen[0].Err == nil {
		t.Fatalf("OnCall saw %+v, want one refused token request with status 400", seen)
	}
}

// A Genesys host is chosen by an admin: without HANDOVER_ALLOW_PRIVATE_GENESYS
// it may not lead Handover to this machine or the network inside
// (docs/security.md §SSRF), neither by its address nor by a redirect.
func TestAGenesysHostOnAPrivateAddressIsRefusedUnlessAllowed(t *testing.T) {
	fake := newFakeGenesys(t, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, `{"id":"conv-1"}`) })
	c, err := NewClient(Config{Host: Host(fake.srv.URL), ClientID: testClientID, ClientSecret: testClientSecret, HTTPClient: NewHTTPClientWith(HTTPOptions{AllowPrivate: false})})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetConversation(t.Context(), "conv-1")
	if !errors.Is(err, ErrPrivateAddress) || IsRetryable(err) {
		t.Fatalf("error = %v, want a refusal of the loopback address that is not retried", err)
	}
	if _, err := fake.client(t, nil).GetConversation(t.Context(), "conv-1"); err != nil {
		t.Fatalf("allowed, the same host: %v", err)
	}
}

func TestARedirectFromGenesysIsNotFollowed(t *testing.T) {
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		t.Error("the redirect was followed")
	}))
	defer elsewhere.Close()
	fake := newFakeGenesys(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/internal", http.StatusFound)
	})
	_, err := fake.client(t, nil).GetConversation(t.Context(), "conv-1")
	apiErr, ok := errors.AsType[*APIError](err)
	if !ok || apiErr.Status != http.StatusFound {
		t.Fatalf("error = %v, want the 302 as an error", err)
	}
}

// Through a proxy our dialer sees only the proxy's address: the host a
// request names is checked before it goes there, and the proxy itself (the
// operator's, often inside the network) is let through (docs/security.md
// §SSRF).
func TestAProxyDoesNotCarryARequestToAPrivateAddress(t *testing.T) {
	var proxied []string
	var mu sync.Mutex
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		proxied = append(proxied, r.URL.String())
		mu.Unlock()
		io.WriteString(w, "from the proxy")
	}))
	defer proxy.Close()
	proxyURL, _ := url.Parse(proxy.URL)
	client := NewHTTPClientWith(HTTPOptions{Proxy: http.ProxyURL(proxyURL)})

	for _, private := range []string{"http://127.0.0.1:9/secret", "http://169.254.169.254/latest/meta-data/", "http://[64:ff9b::a00:1]/"} {
		resp, err := client.Get(private)
		if err == nil {
			resp.Body.Close()
		}
		if !errors.Is(err, ErrPrivateAddress) {
			t.Errorf("GET %s through the proxy: %v, want a refusal of the private address", private, err)
		}
	}
	// A public address (the proxy answers for it) goes through the proxy,
	// which is on loopback.
	resp, err := client.Get("http://192.0.2.1/hello")
	if err != nil {
		t.Fatalf("GET a public address through the proxy on loopback: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if string(body) != "from the proxy" || len(proxied) != 1 || proxied[0] != "http://192.0.2.1/hello" {
		t.Fatalf("the proxy saw %q and answered %q; want only the public request", proxied, body)
	}
}

// An IPv6 address that carries an IPv4 address inside the network reaches
// it through a gateway: it is refused as that address would be.
func TestIPv6AddressesCarryingAPrivateIPv4AddressAreRefused(t *testing.T) {
	for addr, refused := range map[string]bool{
		"::ffff:10.0.0.1":      true,
		"64:ff9b::7f00:1":      true,  // NAT64 of 127.0.0.1
		"64:ff9b::a9fe:a9fe":   true,  // NAT64 of 169.254.169.254
		"2002:c0a8:101::1":     true,  // 6to4 of 192.168.1.1
		"64:ff9b::808:808":     false, // NAT64 of 8.8.8.8
		"2002:808:808::1":      false, // 6to4 of 8.8.8.8
		"2606:4700:4700::1111": false,
		"fd00::1":              true,
	} {
		err := checkReach(netip.MustParseAddr(addr))
		if got := errors.Is(err, ErrPrivateAddress); got != refused {
			t.Errorf("%s: refused %v, want %v (%v)", addr, got, refused, err)
		}
	}
}
