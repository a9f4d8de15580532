// Package config reads Handover's settings from the environment.
//
// Everything an operator can change is an environment variable, so the
// README's table and this file are the whole list.
package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/handover-relay/handover/secret"
)

// Config is the process-wide configuration, read once at start.
type Config struct {
	Addr        string // HANDOVER_ADDR
	DatabaseURL string // HANDOVER_DATABASE_URL
	PublicURL   string // HANDOVER_PUBLIC_URL, without a trailing slash

	AdminUser     string // HANDOVER_ADMIN_USER
	AdminPassword string // HANDOVER_ADMIN_PASSWORD (first start only)
	AdminAPIKey   string // HANDOVER_ADMIN_API_KEY (seeded, stored hashed)

	SecretKey     string // HANDOVER_SECRET_KEY (hex or base64 of 32 bytes)
	SecretKeyFile string // HANDOVER_SECRET_KEY_FILE, default beside the SQLite file

	AllowInsecureGenesys bool // HANDOVER_ALLOW_INSECURE_GENESYS
	// AllowPrivateGenesys lets Genesys calls reach loopback, private and
	// link-local addresses (HANDOVER_ALLOW_PRIVATE_GENESYS); by default only
	// a development start or one with the sandbox may.
	AllowPrivateGenesys bool
	// AllowPrivateBotURLs lets the calls to bots (an endpoint's Bot URL and
	// its Bot Webhook URL) reach loopback, private and link-local addresses
	// (HANDOVER_ALLOW_PRIVATE_BOT_URLS): a bot beside Handover on a private
	// network; by default as Genesys.
	AllowPrivateBotURLs bool
	TrustedProxies      []netip.Prefix // HANDOVER_TRUSTED_PROXIES: a single address is a /32 (or /128)
	SessionLifetime     time.Duration  // HANDOVER_SESSION_LIFETIME
	SessionIdleTimeout  time.Duration  // HANDOVER_SESSION_IDLE_TIMEOUT: a session unused this long ends
	LogFormat           string         // HANDOVER_LOG_FORMAT: text or json
	LogLevel            string         // HANDOVER_LOG_LEVEL

	// Prometheus metrics at /metrics: on MetricsAddr when set, otherwise on
	// the main address behind Authorization: Bearer MetricsToken; neither: off.
	MetricsAddr  string // HANDOVER_METRICS_ADDR
	MetricsToken string // HANDOVER_METRICS_TOKEN

	// Relay tuning.
	Sandbox bool // HANDOVER_SANDBOX: mount the Genesys sandbox and its endpoint; default Development
	// Development: the public URL is this machine (no HANDOVER_PUBLIC_URL, or
	// a loopback one), so nobody else reaches the sandbox it turns on.
	Development              bool
	WebhookReplayWindow      time.Duration // HANDOVER_WEBHOOK_REPLAY_WINDOW (formerly HANDOVER_WEBHOOK_MAX_AGE)
	WebhookSecretGrace       time.Duration // HANDOVER_WEBHOOK_SECRET_GRACE
	URLTokenGrace            time.Duration // HANDOVER_URL_TOKEN_GRACE: how long a rotated URL token still opens the bot API
	GenesysRequestsPerMinute int           // HANDOVER_GENESYS_REQUESTS_PER_MINUTE
	OutboxRetryFor           time.Duration // HANDOVER_OUTBOX_RETRY_FOR
	GenesysCallTimeout       time.Duration // HANDOVER_GENESYS_CALL_TIMEOUT
	BotWebhookRetryFor       time.Duration // HANDOVER_BOT_WEBHOOK_RETRY_FOR: how long an event webhook to a bot is retried
	PollInterval             time.Duration // HANDOVER_POLL_INTERVAL
	InstanceHeartbeat        time.Duration // HANDOVER_INSTANCE_HEARTBEAT: how often an instance says it is alive
	InstanceDeadAfter        time.Duration // HANDOVER_INSTANCE_DEAD_AFTER: silent this long, an instance is dead and its work moves on
	WebhookRetention         time.Duration // HANDOVER_WEBHOOK_RETENTION: webhook and Genesys call logs older are deleted; 0 keeps them
	RefusedLogPerMinute      int           // HANDOVER_REFUSED_LOG_PER_MINUTE: refused webhooks logged as rows per source and minute
	LogMaxBytes              int64         // HANDOVER_LOG_MAX_BYTES: the webhook and Genesys call logs together; 0 for no cap

	Features Features
	Limits   Limits
}

// Limits bound what one client can do on the public surfaces
// (docs/security.md); each is counted for every instance together, and 0
// turns it off.
type Limits struct {
	HandoversPerEndpoint   int // HANDOVER_LIMIT_HANDOVERS_PER_ENDPOINT: handovers an endpoint accepts a minute
	HandoversPerAddress    int // HANDOVER_LIMIT_HANDOVERS_PER_ADDRESS: handovers one client address starts a minute, per endpoint
	MessagesPerSession     int // HANDOVER_LIMIT_MESSAGES_PER_SESSION: user messages a second, per session
	StreamsPerEndpoint     int // HANDOVER_LIMIT_STREAMS_PER_ENDPOINT: event streams open at once
	StreamsPerAddress      int // HANDOVER_LIMIT_STREAMS_PER_ADDRESS: event streams one client address holds open
	DemoSessionsPerAddress int // HANDOVER_LIMIT_DEMO_SESSIONS_PER_ADDRESS: demo chat sessions one address opens an hour
}

// DefaultDatabaseURL is where a fresh start keeps its data.
const DefaultDatabaseURL = "sqlite:data/handover.db"

// Load reads the configuration through getenv (os.Getenv in production, a map in tests).
// maxGenesysCallTimeout keeps a Genesys call, with the wait for the rate
// budget, within the outbox lease that stops other instances from making it
// too (relay/outbox.go).
const maxGenesysCallTimeout = 45 * time.Second

func Load(getenv func(string) string) (Config, error) {
	env := func(key, fallback string) string {
		if v := strings.TrimSpace(getenv(key)); v != "" {
			return v
		}
		return fallback
	}
	var errs []error
	boolEnv := func(key string, fallback bool) bool {
		v := env(key, "")
		if v == "" {
			return fallback
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not true or false", key, v))
			return fallback
		}
		return b
	}

	cfg := Config{
		Addr:                 env("HANDOVER_ADDR", ":8080"),
		DatabaseURL:          env("HANDOVER_DATABASE_URL", DefaultDatabaseURL),
		AdminUser:            env("HANDOVER_ADMIN_USER", "admin"),
		AdminPassword:        getenv("HANDOVER_ADMIN_PASSWORD"),
		AdminAPIKey:          env("HANDOVER_ADMIN_API_KEY", ""),
		SecretKey:            env("HANDOVER_SECRET_KEY", ""),
		SecretKeyFile:        env("HANDOVER_SECRET_KEY_FILE", ""),
		AllowInsecureGenesys: boolEnv("HANDOVER_ALLOW_INSECURE_GENESYS", false),
		LogFormat:            env("HANDOVER_LOG_FORMAT", "text"),
		LogLevel:             env("HANDOVER_LOG_LEVEL", "info"),
		MetricsAddr:          env("HANDOVER_METRICS_ADDR", ""),
		MetricsToken:         env("HANDOVER_METRICS_TOKEN", ""),
		Features: Features{
			GenesysCloudOM:          boolEnv("FEATURE_ENABLE_GENESYS_CLOUD_OM", true),
			GenesysCloudOMWhitelist: parseWhitelist(getenv("FEATURE_ENABLE_GENESYS_CLOUD_OM_WHITELIST")),
			BotConnectorWhitelist:   parseWhitelist(getenv("FEATURE_USE_GENESYS_BOT_CONNECTOR_ENDPOINT_WHITELIST")),
		},
	}

	durationEnv := func(key, fallback string, allowZero bool) time.Duration {
		d, err := time.ParseDuration(env(key, fallback))
		if err != nil || d < 0 || (d == 0 && !allowZero) {
			errs = append(errs, fmt.Errorf("%s: %q is not a duration such as %s", key, getenv(key), fallback))
		}
		return d
	}
	sandboxSet := strings.TrimSpace(getenv("HANDOVER_SANDBOX")) != ""
	cfg.Sandbox = boolEnv("HANDOVER_SANDBOX", false)
	// The replay window replaced a 15-minute maximum age that answered 401
	// to correctly signed webhooks from a skewed clock; an old manifest's
	// HANDOVER_WEBHOOK_MAX_AGE still sets it.
	if getenv("HANDOVER_WEBHOOK_REPLAY_WINDOW") == "" && getenv("HANDOVER_WEBHOOK_MAX_AGE") != "" {
		cfg.WebhookReplayWindow = durationEnv("HANDOVER_WEBHOOK_MAX_AGE", "24h", true)
	} else {
		cfg.WebhookReplayWindow = durationEnv("HANDOVER_WEBHOOK_REPLAY_WINDOW", "24h", true)
	}
	cfg.WebhookSecretGrace = durationEnv("HANDOVER_WEBHOOK_SECRET_GRACE", "24h", true)
	cfg.URLTokenGrace = durationEnv("HANDOVER_URL_TOKEN_GRACE", "24h", true)
	cfg.OutboxRetryFor = durationEnv("HANDOVER_OUTBOX_RETRY_FOR", "15m", false)
	cfg.BotWebhookRetryFor = durationEnv("HANDOVER_BOT_WEBHOOK_RETRY_FOR", "24h", false)
	cfg.PollInterval = durationEnv("HANDOVER_POLL_INTERVAL", "30s", false)
	cfg.InstanceHeartbeat = durationEnv("HANDOVER_INSTANCE_HEARTBEAT", "2s", false)
	cfg.InstanceDeadAfter = durationEnv("HANDOVER_INSTANCE_DEAD_AFTER", "10s", false)
	if cfg.InstanceDeadAfter < 2*cfg.InstanceHeartbeat {
		errs = append(errs, fmt.Errorf("HANDOVER_INSTANCE_DEAD_AFTER (%s) must be at least twice HANDOVER_INSTANCE_HEARTBEAT (%s), or living instances would count as dead", cfg.InstanceDeadAfter, cfg.InstanceHeartbeat))
	}
	cfg.WebhookRetention = durationEnv("HANDOVER_WEBHOOK_RETENTION", "336h", true)
	cfg.GenesysCallTimeout = durationEnv("HANDOVER_GENESYS_CALL_TIMEOUT", "20s", false)
	if cfg.GenesysCallTimeout > maxGenesysCallTimeout {
		// A call that outlived its outbox lease (a minute) could be made a
		// second time by another instance meanwhile.
		errs = append(errs, fmt.Errorf("HANDOVER_GENESYS_CALL_TIMEOUT (%s) must be at most %s", cfg.GenesysCallTimeout, maxGenesysCallTimeout))
	}
	rpm, err := strconv.Atoi(env("HANDOVER_GENESYS_REQUESTS_PER_MINUTE", "300"))
	if err != nil || rpm <= 0 {
		errs = append(errs, fmt.Errorf("HANDOVER_GENESYS_REQUESTS_PER_MINUTE: %q is not a positive whole number", getenv("HANDOVER_GENESYS_REQUESTS_PER_MINUTE")))
	}
	cfg.GenesysRequestsPerMinute = rpm
	limit := func(key string, fallback int) int {
		n, err := strconv.Atoi(env(key, strconv.Itoa(fallback)))
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a whole number (0 turns the limit off)", key, getenv(key)))
		}
		return n
	}
	cfg.Limits = Limits{
		HandoversPerEndpoint:   limit("HANDOVER_LIMIT_HANDOVERS_PER_ENDPOINT", 300),
		HandoversPerAddress:    limit("HANDOVER_LIMIT_HANDOVERS_PER_ADDRESS", 30),
		MessagesPerSession:     limit("HANDOVER_LIMIT_MESSAGES_PER_SESSION", 5),
		StreamsPerEndpoint:     limit("HANDOVER_LIMIT_STREAMS_PER_ENDPOINT", 10000),
		StreamsPerAddress:      limit("HANDOVER_LIMIT_STREAMS_PER_ADDRESS", 1000),
		DemoSessionsPerAddress: limit("HANDOVER_LIMIT_DEMO_SESSIONS_PER_ADDRESS", 30),
	}
	refused, err := strconv.Atoi(env("HANDOVER_REFUSED_LOG_PER_MINUTE", "60"))
	if err != nil || refused <= 0 {
		errs = append(errs, fmt.Errorf("HANDOVER_REFUSED_LOG_PER_MINUTE: %q is not a positive whole number", getenv("HANDOVER_REFUSED_LOG_PER_MINUTE")))
	}
	cfg.RefusedLogPerMinute = refused
	logMax, err := parseBytes(env("HANDOVER_LOG_MAX_BYTES", "1GB"))
	if err != nil {
		errs = append(errs, fmt.Errorf("HANDOVER_LOG_MAX_BYTES: %q is not a size such as 1GB, 500MB or 1073741824 (0 for no cap)", getenv("HANDOVER_LOG_MAX_BYTES")))
	}
	cfg.LogMaxBytes = logMax

	lifetime, err := time.ParseDuration(env("HANDOVER_SESSION_LIFETIME", "168h"))
	if err != nil || lifetime <= 0 {
		errs = append(errs, fmt.Errorf("HANDOVER_SESSION_LIFETIME: %q is not a positive duration such as 12h", getenv("HANDOVER_SESSION_LIFETIME")))
	}
	cfg.SessionLifetime = lifetime
	idle, err := time.ParseDuration(env("HANDOVER_SESSION_IDLE_TIMEOUT", "12h"))
	if err != nil || idle <= 0 {
		errs = append(errs, fmt.Errorf("HANDOVER_SESSION_IDLE_TIMEOUT: %q is not a positive duration such as 12h", getenv("HANDOVER_SESSION_IDLE_TIMEOUT")))
	}
	cfg.SessionIdleTimeout = idle

	if cfg.AdminPassword != "" {
		if err := secret.CheckPassword(cfg.AdminPassword); err != nil {
			errs = append(errs, fmt.Errorf("HANDOVER_ADMIN_PASSWORD: %w, or leave it unset to get a random one printed at first start", err))
		}
	}

	for _, entry := range splitList(getenv("HANDOVER_TRUSTED_PROXIES")) {
		prefix, err := parseAddressOrRange(entry)
		if err != nil {
			errs = append(errs, fmt.Errorf("HANDOVER_TRUSTED_PROXIES: %q is not an IP address or a CIDR range such as 10.0.0.0/8", entry))
			continue
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, prefix)
	}

	if cfg.MetricsToken != "" && len(cfg.MetricsToken) < 16 {
		errs = append(errs, errors.New("HANDOVER_METRICS_TOKEN: use at least 16 characters (openssl rand -hex 16)"))
	}
	if cfg.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(cfg.MetricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("HANDOVER_METRICS_ADDR: %q is not a listen address such as :9090", cfg.MetricsAddr))
		}
	}

	if cfg.LogFormat != "text" && cfg.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("HANDOVER_LOG_FORMAT: %q is neither text nor json", cfg.LogFormat))
	}

	public := env("HANDOVER_PUBLIC_URL", "")
	if public == "" {
		public = "http://" + localAddress(cfg.Addr)
	}
	u, err := url.Parse(public)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("HANDOVER_PUBLIC_URL: %q is not an http(s) URL such as https://handover.example.com", public))
	}
	cfg.PublicURL = strings.TrimRight(public, "/")
	// The sandbox (a fake Genesys with an agent desk and fault switches) is
	// for development: on by default only where the public URL is this
	// machine; elsewhere only when asked for (docs/security.md).
	cfg.Development = err == nil && isLoopbackHost(u.Hostname())
	if !sandboxSet {
		cfg.Sandbox = cfg.Development
	}
	cfg.AllowPrivateGenesys = boolEnv("HANDOVER_ALLOW_PRIVATE_GENESYS", cfg.Development || cfg.Sandbox)
	cfg.AllowPrivateBotURLs = boolEnv("HANDOVER_ALLOW_PRIVATE_BOT_URLS", cfg.AllowPrivateGenesys)

	if cfg.SecretKeyFile == "" {
		if path, ok := SQLitePath(cfg.DatabaseURL); ok {
			cfg.SecretKeyFile = filepath.Join(filepath.Dir(path), "secret.key")
		}
	}
	if cfg.SecretKey == "" && cfg.SecretKeyFile == "" {
		errs = append(errs, errors.New("HANDOVER_SECRET_KEY: required with a Postgres database, so that every instance seals secrets with the same key (or set HANDOVER_SECRET_KEY_FILE)"))
	}
	return cfg, errors.Join(errs...)
}

// SecureCookies tells whether the console is served over TLS, so cookies carry Secure.
func (c Config) SecureCookies() bool { return strings.HasPrefix(c.PublicURL, "https://") }

// SQLitePath returns the file path of a sqlite: database URL.
// Accepted forms: sqlite:///abs/path.db, sqlite:rel/path.db, sqlite://rel/path.db, file:path.db.
func SQLitePath(databaseURL string) (string, bool) {
	for _, prefix := range []string{"sqlite://", "sqlite:", "sqlite3://", "sqlite3:", "file:"} {
		if rest, ok := strings.CutPrefix(databaseURL, prefix); ok {
			rest, _, _ = strings.Cut(rest, "?")
			return rest, rest != ""
		}
	}
	return "", false
}

// IsPostgres tells whether the database URL names a PostgreSQL server.
func IsPostgres(databaseURL string) bool {
	return strings.HasPrefix(databaseURL, "postgres://") || strings.HasPrefix(databaseURL, "postgresql://")
}

// isLoopbackHost tells localhost and loopback addresses.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// localAddress turns a listen address such as ":8080" into "localhost:8080" for links in the log.
func localAddress(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// parseAddressOrRange reads "10.0.0.1" as 10.0.0.1/32 and "10.0.0.0/8" as is.
// IPv4-mapped IPv6 addresses count as IPv4, as connections report them.
func parseAddressOrRange(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		prefix, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if prefix.Addr().Is4In6() && prefix.Bits() >= 96 {
			prefix = netip.PrefixFrom(prefix.Addr().Unmap(), prefix.Bits()-96)
		}
		return prefix.Masked(), nil
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	addr = addr.Unmap().WithZone("")
	return netip.PrefixFrom(addr, addr.BitLen()), nil
}

// byteUnits are the units parseBytes reads, in powers of 1024.
var byteUnits = []struct {
	suffix string
	size   int64
}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40}, {"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"tb", 1 << 40}, {"b", 1}}

// parseBytes reads a size: a whole number of bytes, or one with a unit in
// powers of 1024 ("1GB" and "1GiB" are both 1073741824 bytes).
func parseBytes(s string) (int64, error) {
	number, unit := strings.ToLower(strings.TrimSpace(s)), int64(1)
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(number, u.suffix); ok {
			number, unit = strings.TrimSpace(rest), u.size
			break
		}
	}
	n, err := strconv.ParseInt(number, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/unit {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	return n * unit, nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
