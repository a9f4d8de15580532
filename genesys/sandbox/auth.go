package sandbox

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/handover-relay/handover/genesys"
)

// token is an issued access token and the calls made with it in the last
// minute, for the rate limit.
type token struct {
	clientID string
	expires  time.Time
}

// APICall is one accepted /api/v2 call, for tests that count what a client
// spent.
type APICall struct {
	ClientID string
	Method   string
	Path     string
	Time     time.Time
}

// maxAPICalls is how many accepted calls APICalls remembers.
const maxAPICalls = 10000

const rateWindow = time.Minute

// apiError answers with a Platform API ErrorBody (docs/genesys.md §Inbound) and
// records the refusal.
func (s *Sandbox) apiError(c *fiber.Ctx, status int, code, message string) error {
	return s.apiErrorBody(c, genesys.ErrorBody{Message: message, Code: code, Status: status})
}

func (s *Sandbox) apiErrorBody(c *fiber.Ctx, body genesys.ErrorBody) error {
	body.ContextID = uuid.NewString()
	s.recordRejected(c, body.Status, body.Code, body.Message)
	return c.Status(body.Status).JSON(body)
}

// Refused requests are kept in a ring: the last maxRejected of them, each
// with at most the first maxRejectedBody bytes of its body, so a client
// sending one refused megabyte after another costs the sandbox nothing.
const (
	maxRejected     = 100
	maxRejectedBody = 4 << 10
)

func (s *Sandbox) recordRejected(c *fiber.Ctx, status int, code, reason string) {
	body := c.Body()
	rec := RejectedRecord{
		Method:    c.Method(), // fiber returns an immutable method string
		Path:      strings.Clone(c.Path()),
		Status:    status,
		Code:      code,
		Reason:    reason,
		Body:      slices.Clone(body[:min(len(body), maxRejectedBody)]),
		BodyBytes: len(body),
		Time:      s.now(),
	}
	s.mu.Lock()
	if len(s.rejected) < maxRejected {
		s.rejected = append(s.rejected, rec)
	} else {
		s.rejected[s.rejectedNext] = rec
	}
	s.rejectedNext = (s.rejectedNext + 1) % maxRejected
	s.mu.Unlock()
	s.log.Info("refused request", slog.String("method", rec.Method), slog.String("path", rec.Path),
		slog.Int("status", status), slog.String("code", code), slog.String("reason", reason))
}

// applyFaults runs before every API and token call. A latency waits first;
// a status or reset then replaces the real answer.
func (s *Sandbox) applyFaults(c *fiber.Ctx) error {
	path := c.Path()
	s.mu.Lock()
	var f Fault
	matched := false
	for i, fault := range s.faults {
		if fault.PathContains != "" && !strings.Contains(path, fault.PathContains) {
			continue
		}
		f, matched = *fault, true
		if fault.Count > 0 {
			fault.Count--
			if fault.Count == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
		}
		break
	}
	s.mu.Unlock()
	if !matched {
		return c.Next()
	}
	if f.SlowAnswer > 0 {
		err := c.Next()
		s.wait(f.SlowAnswer)
		return err
	}
	if f.Latency > 0 {
		s.wait(f.Latency)
	}
	switch {
	case f.Reset:
		s.recordRejected(c, 0, "connection.reset", "fault: connection reset without an answer")
		resetConnection(c)
		return nil
	case f.Status != 0:
		if f.RetryAfter > 0 {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(ceilSeconds(f.RetryAfter)))
		}
		return s.apiError(c, f.Status, faultCode(f.Status), "Injected fault: "+statusText(f.Status))
	}
	return c.Next()
}

// wait sleeps for d, or until the sandbox closes.
func (s *Sandbox) wait(d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-s.ctx.Done():
	}
}

// resetConnection drops the TCP connection without writing an answer. The
// hijack is what stops fasthttp from writing the response; a zero linger
// makes the close an RST, which a client reports as "connection reset".
func resetConnection(c *fiber.Ctx) {
	c.Context().HijackSetNoResponse(true)
	c.Context().Hijack(func(conn net.Conn) {
		raw := conn
		if u, ok := conn.(interface{ UnsafeConn() net.Conn }); ok {
			raw = u.UnsafeConn()
		}
		if tcp, ok := raw.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0)
		}
		_ = conn.Close()
	})
}

// faultCode is the ErrorBody code Genesys uses for status.
func faultCode(status int) string {
	switch status {
	case fiber.StatusBadRequest:
		return "bad.request"
	case fiber.StatusUnauthorized:
		return "bad.credentials"
	case fiber.StatusForbidden:
		return "missing.permissions"
	case fiber.StatusNotFound:
		return "not.found"
	case fiber.StatusRequestTimeout:
		return "request.timeout"
	case fiber.StatusTooManyRequests:
		return "too.many.requests"
	case fiber.StatusServiceUnavailable:
		return "service.unavailable"
	case fiber.StatusGatewayTimeout:
		return "gateway.timeout"
	}
	if status >= 500 {
		return "internal.server.error"
	}
	return "bad.request"
}

func statusText(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "status " + strconv.Itoa(status)
}

func ceilSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// issueToken is POST /oauth/token with the client-credentials grant
// (docs/genesys.md §OAuth). Credentials come in HTTP Basic, as the SDKs send them, or
// in the form body, as some connectors do.
func (s *Sandbox) issueToken(c *fiber.Ctx) error {
	clientID, secret, ok := basicAuth(c.Get(fiber.HeaderAuthorization))
	if !ok {
		clientID, secret = c.FormValue("client_id"), c.FormValue("client_secret")
	}
	if grant := c.FormValue("grant_type"); grant != "client_credentials" {
		return s.oauthError(c, fiber.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant type %q is not supported", grant))
	}
	s.mu.Lock()
	want, known := s.clients[clientID]
	s.mu.Unlock()
	if !known || subtle.ConstantTimeCompare([]byte(want), []byte(secret)) != 1 {
		return s.oauthError(c, fiber.StatusUnauthorized, "invalid_client", "client not found or bad client secret")
	}

	var b [48]byte
	_, _ = rand.Read(b[:])
	value := base64.RawURLEncoding.EncodeToString(b[:])
	s.mu.Lock()
	s.tokens[value] = &token{clientID: strings.Clone(clientID), expires: s.now().Add(s.cfg.TokenLifetime)}
	s.mu.Unlock()
	return c.JSON(fiber.Map{
		"access_token": value,
		"token_type":   "bearer",
		"expires_in":   int(s.cfg.TokenLifetime / time.Second),
	})
}

// oauthError is the OAuth endpoint's error shape, which is not an ErrorBody.
func (s *Sandbox) oauthError(c *fiber.Ctx, status int, code, description string) error {
	s.recordRejected(c, status, code, description)
	return c.Status(status).JSON(fiber.Map{"error": code, "description": description, "error_description": description})
}

func basicAuth(header string) (user, password string, ok bool) {
	encoded, found := strings.CutPrefix(header, "Basic ")
	if !found {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil {
		return "", "", false
	}
	user, password, ok = strings.Cut(string(raw), ":")
	// RFC 6749 §2.3.1 form-encodes the id and secret inside Basic; Go's
	// oauth2 does so. Plain values decode to themselves.
	if u, err := url.QueryUnescape(user); err == nil {
		user = u
	}
	if p, err := url.QueryUnescape(password); err == nil {
		password = p
	}
	return user, password, ok
}

// authenticate checks the bearer token and the token's rate limit for every
// /api/v2 call (docs/genesys.md §OAuth, §RateLimits).
func (s *Sandbox) authenticate(c *fiber.Ctx) error {
	value, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if !ok {
		// Genesys also accepts the lower-case scheme.
		value, ok = strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "bearer ")
	}
	value = strings.TrimSpace(value)
	now := s.now()
	s.mu.Lock()
	tok := s.tokens[value]
	if ok && tok != nil && !now.Before(tok.expires) {
		delete(s.tokens, value)
		tok = nil
	}
	if !ok || tok == nil {
		s.mu.Unlock()
		return s.apiError(c, fiber.StatusUnauthorized, "bad.credentials", "Invalid login credentials.")
	}
	// A sliding minute per OAuth client, whatever the token: several
	// instances of one client share the limit (docs/genesys.md §RateLimits).
	clientID := tok.clientID
	calls := s.clientCalls[clientID]
	cut := 0
	for cut < len(calls) && !calls[cut].After(now.Add(-rateWindow)) {
		cut++
	}
	calls = calls[cut:]
	s.clientCalls[clientID] = calls
	if len(calls) >= s.cfg.RequestsPerMinute {
		retryAfter := calls[0].Add(rateWindow).Sub(now)
		s.mu.Unlock()
		limit := s.cfg.RequestsPerMinute
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(ceilSeconds(retryAfter)))
		return s.apiErrorBody(c, genesys.ErrorBody{
			Status:            fiber.StatusTooManyRequests,
			Code:              "too.many.requests",
			Message:           fmt.Sprintf("Rate limit exceeded the maximum [%d] requests within [60] seconds", limit),
			MessageWithParams: "Rate limit exceeded the maximum [{0}] requests within [{1}] seconds",
			MessageParams:     map[string]string{"0": strconv.Itoa(limit), "1": "60"},
			Limit:             &genesys.ErrorLimit{Key: "client.credentials.token.rate.per.minute", Namespace: "platform.api", Value: int64(limit)},
		})
	}
	// Refused calls are not counted, so a client that backs off for
	// Retry-After gets through exactly then.
	s.clientCalls[clientID] = append(calls, now)
	if len(s.apiCalls) >= maxAPICalls {
		s.apiCalls = slices.Delete(s.apiCalls, 0, len(s.apiCalls)-maxAPICalls+1)
	}
	s.apiCalls = append(s.apiCalls, APICall{ClientID: clientID, Method: c.Method(), Path: strings.Clone(c.Path()), Time: now})
	s.mu.Unlock()
	c.Locals(localToken, strings.Clone(value))
	c.Locals(localClientID, clientID)
	return c.Next()
}

type localsKey int

const (
	localClientID localsKey = iota
	localToken
)

// APICalls returns the last accepted /api/v2 calls (up to 10,000), oldest first.
func (s *Sandbox) APICalls() []APICall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.apiCalls)
}

func (s *Sandbox) unknownAPIPath(c *fiber.Ctx) error {
	return s.apiError(c, fiber.StatusNotFound, "not.found", fmt.Sprintf("No resource found for %s %s", c.Method(), c.Path()))
}
