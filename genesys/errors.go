package genesys

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// APIError is a non-2xx answer from Genesys Cloud, read from its ErrorBody
// and headers. Log ContextID: Genesys support asks for it.
type APIError struct {
	Status     int
	Code       string // e.g. bad.request, too.many.requests; for the token endpoint the OAuth error, e.g. invalid_client
	Message    string
	ContextID  string
	RetryAfter time.Duration // from Retry-After; 0 when absent
	Body       ErrorBody     // the whole error body, when there was one
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "genesys answered %d %s", e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.ContextID != "" {
		fmt.Fprintf(&b, " [contextId %s]", e.ContextID)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, "; retry after %s", e.RetryAfter)
	}
	return b.String()
}

// Retryable tells whether the same request may succeed later: a rate limit
// (429), a timeout Genesys reports itself (408) or a server error (5xx).
// Anything else will fail again until someone changes the request or the
// configuration.
func (e *APIError) Retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout || e.Status >= 500
}

// TransportError is a call that got no HTTP answer: a refused or reset
// connection, a DNS failure, a timeout. Whether Genesys acted on the request
// is unknown.
type TransportError struct {
	Op  string // e.g. "POST /api/v2/…" or "token"
	Err error
}

func newTransportError(op string, err error) *TransportError {
	// The *url.Error would repeat the method and the whole URL; the caller's
	// wrapping already says which call failed.
	if urlErr, ok := err.(*url.Error); ok {
		err = urlErr.Err
	}
	return &TransportError{Op: op, Err: err}
}

func (e *TransportError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *TransportError) Unwrap() error { return e.Err }

// IsRetryable tells whether err is worth retrying later with the same
// request: a retryable *APIError, a *TransportError other than a TLS
// certificate failure (which needs an admin, not time), or a context that
// ran out or was cancelled.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if apiErr, ok := errors.AsType[*APIError](err); ok {
		return apiErr.Retryable()
	}
	if _, ok := errors.AsType[*TransportError](err); ok {
		_, badCert := errors.AsType[*tls.CertificateVerificationError](err)
		_, unknownAuthority := errors.AsType[x509.UnknownAuthorityError](err)
		_, wrongHost := errors.AsType[x509.HostnameError](err)
		// A host inside the network stays refused until the settings change.
		return !badCert && !unknownAuthority && !wrongHost && !errors.Is(err, ErrPrivateAddress)
	}
	// A context that ended before any request went out (for example while
	// waiting for another call's token fetch) says nothing against the
	// request itself: a shutdown must leave it pending, not failed.
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// parseRetryAfter reads Retry-After as seconds or, failing that, as an HTTP date.
func parseRetryAfter(value string, now time.Time) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(value, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		const ceiling = 24 * time.Hour // guards the multiplication against overflow
		if secs > int64(ceiling/time.Second) {
			return ceiling
		}
		return time.Duration(secs) * time.Second
	}
	if at, err := http.ParseTime(value); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}
