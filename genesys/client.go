package genesys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

const (
	// DefaultCallTimeout bounds one API call, token fetch and 401 retry included.
	DefaultCallTimeout = 20 * time.Second

	// maxResponseBytes caps what is read of an answer; the largest expected
	// (a page of 100 integrations, a conversation) is far below it.
	maxResponseBytes = 4 << 20

	// tokenRefreshMargin renews a token this long before Genesys would
	// expire it, so that a call started just before expiry does not fail.
	tokenRefreshMargin = time.Minute

	integrationPageSize = 100 // 25–100 is safe (docs/genesys.md §Inbound)
	// maxIntegrationPages stops a listing whose paging never ends.
	maxIntegrationPages = 100
	// maxNamesInError is how many existing integration names a not-found error lists.
	maxNamesInError = 10
)

// ErrIntegrationNotFound means no Open Messaging integration in the org has
// the configured deployment name.
var ErrIntegrationNotFound = errors.New("no Open Messaging integration has this name")

// Config is what a Client needs to reach one endpoint's Genesys Cloud org.
type Config struct {
	Host         Host
	ClientID     string
	ClientSecret string
	// HTTPClient sends every request, the token request included. Give it
	// transport timeouts (see NewHTTPClient, used when nil).
	HTTPClient *http.Client
	// CallTimeout bounds each call; DefaultCallTimeout when zero.
	CallTimeout time.Duration
	// Now is the clock for token expiry, Retry-After dates and messages sent
	// without a time; time.Now when nil.
	Now func() time.Time
	// OnCall is told about every request the client makes, the token
	// requests included, after its answer (or failure): the caller's call
	// log, so that no caller spells an API path. Nil for none.
	OnCall func(ctx context.Context, c Call)
	// BeforeCall is asked before every API request (not token requests),
	// the repeat after a 401 too: the caller's request budget. An error
	// stops the request and is returned as the call's. Nil for none.
	BeforeCall func(ctx context.Context) error
}

// Call is one request the client made, as OnCall sees it.
type Call struct {
	Method string
	Path   string // the request's path, without the query
	Status int    // the HTTP status answered; 0 when no answer came
	// Latency is from sending the request to reading its answer.
	Latency time.Duration
	Err     error // nil for a 2xx answer that was read
}

// Client calls the Genesys Cloud Platform API for Open Messaging with a
// client-credentials token. Each method makes exactly one attempt, apart from
// one retry with a fresh token after a 401: retrying with backoff is the
// outbox's job, which uses IsRetryable to decide. A Client is safe for
// concurrent use.
type Client struct {
	host        Host
	oauth       clientcredentials.Config
	http        *http.Client
	callTimeout time.Duration
	now         func() time.Time
	onCall      func(context.Context, Call)
	beforeCall  func(context.Context) error

	// tokenLock is a one-slot semaphore rather than a mutex so that a caller
	// waiting for another's token fetch can give up when its context ends.
	tokenLock   chan struct{}
	token       string
	tokenExpiry time.Time // zero: no expiry known; keep until a 401
}

// NewClient checks cfg and builds a Client. It makes no network calls.
func NewClient(cfg Config) (*Client, error) {
	switch {
	case cfg.Host == "":
		return nil, errors.New("new Genesys client: no host; set the region domain, for example mypurecloud.de")
	case cfg.ClientID == "" || cfg.ClientSecret == "":
		return nil, errors.New("new Genesys client: the OAuth client id and secret are both required")
	}
	c := &Client{
		host: cfg.Host,
		oauth: clientcredentials.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			TokenURL:     cfg.Host.LoginURL(),
			// Basic auth with a form body is what the Genesys SDKs send (docs/genesys.md §OAuth);
			// naming it also stops oauth2 from probing both styles.
			AuthStyle: oauth2.AuthStyleInHeader,
		},
		http:        cfg.HTTPClient,
		callTimeout: cfg.CallTimeout,
		now:         cfg.Now,
		onCall:      cfg.OnCall,
		beforeCall:  cfg.BeforeCall,
		tokenLock:   make(chan struct{}, 1),
	}
	if c.http == nil {
		c.http = NewHTTPClient()
	}
	if c.callTimeout <= 0 {
		c.callTimeout = DefaultCallTimeout
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// NewHTTPClient returns an HTTP client whose every phase has a timeout, so
// that a stalled Genesys cannot hold a worker.
func NewHTTPClient() *http.Client { return NewHTTPClientWith(HTTPOptions{AllowPrivate: true}) }

// HTTPOptions are what an HTTP client for Genesys may reach.
type HTTPOptions struct {
	// AllowPrivate lets it connect to loopback, private and link-local
	// addresses (a sandbox, a test, a bot beside Handover). Off, a
	// custom Genesys host, or a notification connectUri, that resolves to
	// one is refused when dialled, after DNS, so a name that changes its
	// answer gains nothing (docs/security.md §SSRF).
	AllowPrivate bool
	// Proxy picks the proxy of a request; nil is http.ProxyFromEnvironment
	// (HTTPS_PROXY, NO_PROXY). The proxy itself is the operator's choice and
	// may be inside the network; with AllowPrivate off, the host a request
	// names is then checked before it goes to the proxy, which dials it for
	// us where our dialer cannot look.
	Proxy func(*http.Request) (*url.URL, error)
	// CallTimeout is how long a call may wait for Genesys's answer;
	// DefaultCallTimeout when zero. The client's own deadline per call is
	// Config.CallTimeout: give both the same.
	CallTimeout time.Duration
}

// NewHTTPClientWith is the HTTP client for Genesys with the given reach.
// It follows no redirect: the Platform API answers, and a 3xx is an error
// rather than a way to another host.
func NewHTTPClientWith(o HTTPOptions) *http.Client {
	dialer := NewDialer(o)
	proxy, dial := o.Proxy, dialer.DialContext
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}
	if !o.AllowPrivate {
		proxy, dial = guardedProxy(proxy, dialer)
	}
	answerWithin := o.CallTimeout
	if answerWithin <= 0 {
		answerWithin = DefaultCallTimeout
	}
	return &http.Client{
		// A backstop only: each call has its own, shorter deadline.
		Timeout:       time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			Proxy:                 proxy,
			DialContext:           dial,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: answerWithin,
			ExpectContinueTimeout: time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   16,
		},
	}
}

// NewDialer dials for Genesys (HTTP and the notifications WebSocket) within
// the reach o allows.
func NewDialer(o HTTPOptions) *net.Dialer {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !o.AllowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil {
				return err
			}
			return checkReach(ip)
		}
	}
	return d
}

// checkReach refuses an address inside the network: loopback, private,
// link-local, unspecified, multicast, carrier-grade NAT and benchmarking,
// also when an IPv6 address carries one of those IPv4 addresses (mapped,
// NAT64's well-known prefix, 6to4), which a gateway would reach.
func checkReach(ip netip.Addr) error {
	ip = ip.Unmap()
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64Prefix.Contains(ip):
			ip = netip.AddrFrom4([4]byte(b[12:16]))
		case sixToFourPrefix.Contains(ip):
			ip = netip.AddrFrom4([4]byte(b[2:6]))
		}
	}
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() || ip.IsMulticast() ||
		sharedAddressSpace.Contains(ip) || benchmarkingSpace.Contains(ip) {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, ip)
	}
	return nil
}

// guardedProxy wraps proxy so that a request it sends through a proxy is
// refused when its host resolves inside the network (checkReach), and
// returns the dial that lets the connection to that proxy through: the
// operator configured it, and it may well be inside the network. A name
// could answer differently to the proxy a moment later; the proxy's own
// rules are the last line there.
func guardedProxy(proxy func(*http.Request) (*url.URL, error), dialer *net.Dialer) (func(*http.Request) (*url.URL, error), func(context.Context, string, string) (net.Conn, error)) {
	var proxies sync.Map // host:port of the proxies in use
	direct := &net.Dialer{Timeout: dialer.Timeout, KeepAlive: dialer.KeepAlive}
	guarded := func(r *http.Request) (*url.URL, error) {
		u, err := proxy(r)
		if err != nil || u == nil {
			return u, err
		}
		addrs, err := net.DefaultResolver.LookupNetIP(r.Context(), "ip", r.URL.Hostname())
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", r.URL.Hostname(), err)
		}
		for _, ip := range addrs {
			if err := checkReach(ip); err != nil {
				return nil, err
			}
		}
		proxies.Store(proxyAddr(u), true)
		return u, nil
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if _, ok := proxies.Load(addr); ok {
			return direct.DialContext(ctx, network, addr)
		}
		return dialer.DialContext(ctx, network, addr)
	}
	return guarded, dial
}

// proxyAddr is the host:port the transport dials for proxy u.
func proxyAddr(u *url.URL) string {
	if port := u.Port(); port != "" {
		return net.JoinHostPort(u.Hostname(), port)
	}
	port := "80"
	switch u.Scheme {
	case "https":
		port = "443"
	case "socks5", "socks5h":
		port = "1080"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// ErrPrivateAddress is a dial to an address inside the network that the
// configuration does not allow (HANDOVER_ALLOW_PRIVATE_GENESYS for Genesys,
// HANDOVER_ALLOW_PRIVATE_BOT_URLS for a bot's URLs).
var ErrPrivateAddress = errors.New("the host resolves to a loopback, private or link-local address, which this configuration does not allow " +
	"(HANDOVER_ALLOW_PRIVATE_GENESYS for Genesys, HANDOVER_ALLOW_PRIVATE_BOT_URLS for bots)")

// Ranges inside networks that netip's predicates do not name: carrier-grade
// NAT (RFC 6598; cloud metadata services answer there too) and benchmarking
// (RFC 2544).
var (
	sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")
	benchmarkingSpace  = netip.MustParsePrefix("198.18.0.0/15")
	// IPv6 prefixes that carry an IPv4 address: NAT64's well-known prefix
	// (RFC 6052) and 6to4 (RFC 3056).
	nat64Prefix     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFourPrefix = netip.MustParsePrefix("2002::/16")
)

// ResolveIntegration finds the Open Messaging integration named name (the
// endpoint's deployment name). Genesys has no name filter, so it pages
// through all integrations; an exact match wins over a case-insensitive one.
// When there is none the error wraps ErrIntegrationNotFound and lists the
// names that do exist, so that an admin can spot a typo.
func (c *Client) ResolveIntegration(ctx context.Context, name string) (Integration, error) {
	if strings.TrimSpace(name) == "" {
		return Integration{}, errors.New("resolve deployment: no deployment name is configured")
	}
	var (
		names     []string
		foldMatch []Integration
	)
	for page := 1; page <= maxIntegrationPages; page++ {
		query := url.Values{
			"pageSize":   {strconv.Itoa(integrationPageSize)},
			"pageNumber": {strconv.Itoa(page)},
		}
		var listing IntegrationListing
		if err := c.call(ctx, http.MethodGet, "/api/v2/conversations/messaging/integrations/open", query, nil, &listing); err != nil {
			return Integration{}, fmt.Errorf("resolve deployment %q: list integrations, page %d: %w", name, page, err)
		}
		for _, in := range listing.Entities {
			if in.Name == name {
				return in, nil
			}
			if strings.EqualFold(in.Name, name) {
				foldMatch = append(foldMatch, in)
			}
			names = append(names, in.Name)
		}
		// The reference gives both pageCount and nextUri as end markers
		// (docs/genesys.md §Inbound). Stopping only when neither promises more costs at most one
		// extra request; stopping early could miss the integration.
		morePages := page < listing.PageCount || listing.NextURI != ""
		if len(listing.Entities) == 0 || !morePages {
			break
		}
	}
	switch len(foldMatch) {
	case 1:
		return foldMatch[0], nil
	case 0:
		if len(names) == 0 {
			return Integration{}, fmt.Errorf("resolve deployment %q: %w; the Genesys org has no Open Messaging integrations yet", name, ErrIntegrationNotFound)
		}
		return Integration{}, fmt.Errorf("resolve deployment %q: %w; the Genesys org has %s", name, ErrIntegrationNotFound, listNames(names))
	default:
		matched := make([]string, len(foldMatch))
		for i, in := range foldMatch {
			matched[i] = in.Name
		}
		return Integration{}, fmt.Errorf("resolve deployment %q: several integrations differ from it only in case (%s); use the exact name", name, listNames(matched))
	}
}

// listNames quotes up to maxNamesInError names for an admin to read.
func listNames(names []string) string {
	shown := names[:min(len(names), maxNamesInError)]
	quoted := make([]string, len(shown))
	for i, n := range shown {
		quoted[i] = strconv.Quote(n)
	}
	list := strings.Join(quoted, ", ")
	if rest := len(names) - len(shown); rest > 0 {
		list += fmt.Sprintf(" and %d more", rest)
	}
	return list
}

// SendMessage sends a customer message to the integration. With
// prefetchConversationID the answer carries the conversation id, which the
// relay needs to follow and end the conversation (docs/genesys.md §Inbound). A zero
// msg.Channel.Time is set to now.
func (c *Client) SendMessage(ctx context.Context, integrationID string, msg InboundMessage, prefetchConversationID bool) (MessageResponse, error) {
	if msg.Channel.Time.IsZero() {
		msg.Channel.Time = TimestampOf(c.now())
	}
	var query url.Values
	if prefetchConversationID {
		query = url.Values{"prefetchConversationId": {"true"}}
	}
	var resp MessageResponse
	if err := c.inbound(ctx, integrationID, "message", query, msg, &resp); err != nil {
		return MessageResponse{}, fmt.Errorf("send message to integration %s: %w", integrationID, err)
	}
	return resp, nil
}

// SendEvent sends a customer typing event. A zero ev.Channel.Time is set to now.
func (c *Client) SendEvent(ctx context.Context, integrationID string, ev InboundEvent) (MessageResponse, error) {
	if ev.Channel.Time.IsZero() {
		ev.Channel.Time = TimestampOf(c.now())
	}
	var resp MessageResponse
	if err := c.inbound(ctx, integrationID, "event", nil, ev, &resp); err != nil {
		return MessageResponse{}, fmt.Errorf("send event to integration %s: %w", integrationID, err)
	}
	return resp, nil
}

// SendReceipt reports whether agent message r.ID reached the customer. A
// zero r.Channel.Time is set to now.
func (c *Client) SendReceipt(ctx context.Context, integrationID string, r InboundReceipt) (MessageResponse, error) {
	if r.Channel.Time.IsZero() {
		r.Channel.Time = TimestampOf(c.now())
	}
	var resp MessageResponse
	if err := c.inbound(ctx, integrationID, "receipt", nil, r, &resp); err != nil {
		return MessageResponse{}, fmt.Errorf("send %s receipt for message %s to integration %s: %w", r.Status, r.ID, integrationID, err)
	}
	return resp, nil
}

// SendStructuredResponse reports a customer's click on a quick reply or
// button. A zero r.Channel.Time is set to now.
func (c *Client) SendStructuredResponse(ctx context.Context, integrationID string, r InboundStructuredResponse) (MessageResponse, error) {
	if r.Channel.Time.IsZero() {
		r.Channel.Time = TimestampOf(c.now())
	}
	var resp MessageResponse
	if err := c.inbound(ctx, integrationID, "structured/response", nil, r, &resp); err != nil {
		return MessageResponse{}, fmt.Errorf("send button response to integration %s: %w", integrationID, err)
	}
	return resp, nil
}

func (c *Client) inbound(ctx context.Context, integrationID, kind string, query url.Values, body, out any) error {
	if integrationID == "" {
		return errors.New("no integration id")
	}
	path := "/api/v2/conversations/messages/" + url.PathEscape(integrationID) + "/inbound/open/" + kind
	return c.call(ctx, http.MethodPost, path, query, body, out)
}

// GetConversation reads a message conversation's participants and their states.
func (c *Client) GetConversation(ctx context.Context, conversationID string) (MessageConversation, error) {
	if conversationID == "" {
		return MessageConversation{}, errors.New("get conversation: no conversation id")
	}
	var conv MessageConversation
	if err := c.call(ctx, http.MethodGet, "/api/v2/conversations/messages/"+url.PathEscape(conversationID), nil, nil, &conv); err != nil {
		return MessageConversation{}, fmt.Errorf("get conversation %s: %w", conversationID, err)
	}
	return conv, nil
}

// DisconnectParticipant sets a participant's state to disconnected, for
// example the customer's when the customer left (docs/genesys.md §Inbound).
func (c *Client) DisconnectParticipant(ctx context.Context, conversationID, participantID string) error {
	if conversationID == "" || participantID == "" {
		return errors.New("disconnect participant: conversation id and participant id are both required")
	}
	path := "/api/v2/conversations/messages/" + url.PathEscape(conversationID) + "/participants/" + url.PathEscape(participantID)
	body := participantStateRequest{State: ParticipantStateDisconnected}
	if err := c.call(ctx, http.MethodPatch, path, nil, body, nil); err != nil {
		return fmt.Errorf("disconnect participant %s of conversation %s: %w", participantID, conversationID, err)
	}
	return nil
}

// call makes one API request under its own deadline, and repeats it once
// with a fresh token if Genesys answers 401: a token can be revoked or
// expire early, and the next one is a request away.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
	}
	target := c.host.APIBase() + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	ctx, cancel := context.WithTimeout(ctx, c.callTimeout)
	defer cancel()

	for attempt := 1; ; attempt++ {
		if c.beforeCall != nil {
			if err := c.beforeCall(ctx); err != nil {
				return err
			}
		}
		token, err := c.accessToken(ctx)
		if err != nil {
			return err
		}
		started := time.Now()
		status, err := c.do(ctx, method, target, path, token, body, out)
		c.report(ctx, method, path, status, started, err)
		if apiErr, ok := errors.AsType[*APIError](err); ok && apiErr.Status == http.StatusUnauthorized && attempt == 1 {
			c.dropToken(ctx, token)
			continue
		}
		return err
	}
}

func (c *Client) do(ctx context.Context, method, target, path, token string, body []byte, out any) (status int, err error) {
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, reader)
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")

	op := method + " " + path
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, newTransportError(op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return resp.StatusCode, &TransportError{Op: op, Err: fmt.Errorf("read answer: %w", err)}
	}
	if len(data) > maxResponseBytes {
		return resp.StatusCode, fmt.Errorf("%s: answer is larger than %d bytes", op, maxResponseBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, c.apiError(resp, data)
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return resp.StatusCode, nil
	}
	// The request succeeded even if its answer cannot be read, so this
	// error is not retryable: sending again could duplicate the message.
	if err := json.Unmarshal(data, out); err != nil {
		return resp.StatusCode, fmt.Errorf("%s: read answer: %w", op, err)
	}
	return resp.StatusCode, nil
}

// report tells OnCall about one request.
func (c *Client) report(ctx context.Context, method, path string, status int, started time.Time, err error) {
	if c.onCall != nil {
		c.onCall(ctx, Call{Method: method, Path: path, Status: status, Latency: time.Since(started), Err: err})
	}
}

func (c *Client) apiError(resp *http.Response, data []byte) *APIError {
	e := &APIError{
		Status:     resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), c.now()),
	}
	var body ErrorBody
	if err := json.Unmarshal(data, &body); err == nil {
		e.Body = body
		e.Code, e.Message, e.ContextID = body.Code, body.Message, body.ContextID
	} else if text := strings.TrimSpace(string(data)); text != "" {
		// Not an ErrorBody: a proxy or load balancer answered. Keep a
		// little of it for the log.
		e.Message = clip(text, 200)
	}
	return e
}

// accessToken returns the cached token, or fetches one when there is none
// or it is about to expire.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	select {
	case c.tokenLock <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("wait for access token: %w", ctx.Err())
	}
	defer func() { <-c.tokenLock }()

	if c.token != "" && (c.tokenExpiry.IsZero() || c.now().Before(c.tokenExpiry)) {
		return c.token, nil
	}
	tok, err := c.fetchToken(ctx)
	if err != nil {
		return "", err
	}
	c.token = tok.AccessToken
	c.tokenExpiry = time.Time{}
	// The lifetime is counted on our clock rather than taken from oauth2's
	// Expiry, so that an injected clock governs expiry too.
	if lifetime := tokenLifetime(tok); lifetime > 0 {
		c.tokenExpiry = c.now().Add(lifetime - min(tokenRefreshMargin, lifetime/2))
	}
	return c.token, nil
}

// tokenLifetime is the token's expires_in. clientcredentials does not copy
// it into Token.ExpiresIn, so it is read from the raw answer, and failing
// that from Expiry, which oauth2 computed on the wall clock.
func tokenLifetime(tok *oauth2.Token) time.Duration {
	if tok.ExpiresIn > 0 {
		return time.Duration(tok.ExpiresIn) * time.Second
	}
	switch v := tok.Extra("expires_in").(type) {
	case float64:
		if v > 0 {
			return time.Duration(v) * time.Second
		}
	case string:
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs > 0 {
			return time.Duration(secs) * time.Second
		}
	}
	if !tok.Expiry.IsZero() {
		return time.Until(tok.Expiry)
	}
	return 0
}

// dropToken forgets token after Genesys refused it, unless another call has
// already replaced it.
func (c *Client) dropToken(ctx context.Context, token string) {
	select {
	case c.tokenLock <- struct{}{}:
	case <-ctx.Done():
		return // the retry will fail on ctx anyway
	}
	defer func() { <-c.tokenLock }()
	if c.token == token {
		c.token = ""
		c.tokenExpiry = time.Time{}
	}
}

// tokenError turns what oauth2 returns into an *APIError (Genesys answered)
// or a *TransportError (it did not), so that callers handle both kinds of
// call alike.
func (c *Client) tokenError(err error) error {
	if re, ok := errors.AsType[*oauth2.RetrieveError](err); ok && re.Response != nil {
		e := &APIError{
			Status:     re.Response.StatusCode,
			Code:       re.ErrorCode,
			Message:    re.ErrorDescription,
			RetryAfter: parseRetryAfter(re.Response.Header.Get("Retry-After"), c.now()),
		}
		if e.Status == http.StatusUnauthorized || e.Status == http.StatusBadRequest && re.ErrorCode == "invalid_client" {
			e.Message = strings.TrimSpace("Genesys refused the OAuth client id or secret. " + e.Message)
		}
		return e
	}
	if _, ok := errors.AsType[*url.Error](err); ok {
		return newTransportError("token request", err)
	}
	return err
}

// fetchToken asks the login host for a new client-credentials token, and
// reports the request.
func (c *Client) fetchToken(ctx context.Context) (*oauth2.Token, error) {
	started := time.Now()
	tok, err := c.oauth.Token(context.WithValue(ctx, oauth2.HTTPClient, c.http))
	if err != nil {
		err = fmt.Errorf("get access token from %s: %w", c.oauth.TokenURL, c.tokenError(err))
	}
	status := http.StatusOK
	if err != nil {
		status = 0
		if apiErr, ok := errors.AsType[*APIError](err); ok {
			status = apiErr.Status
		}
	}
	c.report(ctx, http.MethodPost, tokenPath, status, started, err)
	return tok, err
}

// tokenPath is the login host's token endpoint, as the call log shows it.
const tokenPath = "/oauth/token"
