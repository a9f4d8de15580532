package config

import (
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsStartTheProductOnSQLite(t *testing.T) {
	cfg, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":8080" || cfg.DatabaseURL != "sqlite:data/handover.db" || cfg.AdminUser != "admin" || cfg.PublicURL != "http://localhost:8080" {
		t.Fatalf("defaults = %+v", cfg)
	}
	if cfg.SecretKeyFile != "data/secret.key" {
		t.Fatalf("key file %q, want beside the database", cfg.SecretKeyFile)
	}
	if !cfg.Features.GenesysCloudOM || !cfg.Features.GenesysCloudOMWhitelist.Admits("anyone") || !cfg.Features.BotConnectorFor("anyone") {
		t.Fatalf("default features = %+v, want everything for every organisation", cfg.Features)
	}
}

func TestSQLiteURLForms(t *testing.T) {
	for url, want := range map[string]string{
		"sqlite:///var/lib/handover/handover.db": "/var/lib/handover/handover.db",
		"sqlite:data/handover.db":                "data/handover.db",
		"sqlite://data/handover.db":              "data/handover.db",
		"file:x.db?cache=shared":                 "x.db",
	} {
		if got, ok := SQLitePath(url); !ok || got != want {
			t.Errorf("SQLitePath(%q) = %q, %v; want %q", url, got, ok, want)
		}
	}
	if _, ok := SQLitePath("postgres://u:p@h/db"); ok || !IsPostgres("postgres://u:p@h/db") {
		t.Error("postgres URL taken for SQLite")
	}
}

func TestPostgresNeedsASharedSecretKey(t *testing.T) {
	_, err := Load(env(map[string]string{"HANDOVER_DATABASE_URL": "postgres://u:p@localhost/handover"}))
	if err == nil || !strings.Contains(err.Error(), "HANDOVER_SECRET_KEY") {
		t.Fatalf("err = %v, want a message about HANDOVER_SECRET_KEY", err)
	}
}

func TestBadValuesAreNamedInTheError(t *testing.T) {
	_, err := Load(env(map[string]string{
		"FEATURE_ENABLE_GENESYS_CLOUD_OM": "maybe",
		"HANDOVER_PUBLIC_URL":             "handover.example.com",
		"HANDOVER_LOG_FORMAT":             "xml",
		"HANDOVER_SESSION_LIFETIME":       "forever",
		"HANDOVER_GENESYS_CALL_TIMEOUT":   "2m",
	}))
	for _, name := range []string{"FEATURE_ENABLE_GENESYS_CLOUD_OM", "HANDOVER_PUBLIC_URL", "HANDOVER_LOG_FORMAT", "HANDOVER_SESSION_LIFETIME", "HANDOVER_GENESYS_CALL_TIMEOUT"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
}

func TestFeatureFlagsAdmitOrganisationsByName(t *testing.T) {
	cfg, err := Load(env(map[string]string{
		"FEATURE_ENABLE_GENESYS_CLOUD_OM_WHITELIST":            " acme , Globex ",
		"FEATURE_USE_GENESYS_BOT_CONNECTOR_ENDPOINT_WHITELIST": "*",
		"HANDOVER_PUBLIC_URL":                                  "https://handover.example.com/",
	}))
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Features
	for org, want := range map[string]bool{"acme": true, "ACME": true, "globex": true, "initech": false} {
		if ok, reason := f.GenesysCloudOMFor(org); ok != want || (!ok && !strings.Contains(reason, "WHITELIST")) {
			t.Errorf("GenesysCloudOMFor(%q) = %v, %q; want %v", org, ok, reason, want)
		}
	}
	if !f.BotConnectorFor("initech") {
		t.Error("* does not admit every organisation")
	}
	if f.GenesysCloudOMWhitelist.String() != "acme, Globex" || f.BotConnectorWhitelist.String() != "every organisation (*)" {
		t.Errorf("whitelists shown as %q and %q", f.GenesysCloudOMWhitelist, f.BotConnectorWhitelist)
	}
	if !cfg.SecureCookies() || cfg.PublicURL != "https://handover.example.com" {
		t.Errorf("public URL %q, secure cookies %v", cfg.PublicURL, cfg.SecureCookies())
	}

	off, _ := Load(env(map[string]string{"FEATURE_ENABLE_GENESYS_CLOUD_OM": "false"}))
	if ok, reason := off.Features.GenesysCloudOMFor("default"); ok || !strings.Contains(reason, "FEATURE_ENABLE_GENESYS_CLOUD_OM=false") {
		t.Errorf("switched off: %v %q", ok, reason)
	}
}

// The sandbox is a fake Genesys with an agent desk: on by default only for a
// development start, whose public URL is this machine.
func TestTheSandboxMountsByDefaultOnlyInDevelopment(t *testing.T) {
	for _, c := range []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"no public URL", nil, true},
		{"a loopback public URL", map[string]string{"HANDOVER_PUBLIC_URL": "http://127.0.0.1:9000"}, true},
		{"localhost", map[string]string{"HANDOVER_PUBLIC_URL": "http://localhost:8080"}, true},
		{"a public URL", map[string]string{"HANDOVER_PUBLIC_URL": "https://handover.example.com"}, false},
		{"a public URL, asked for", map[string]string{"HANDOVER_PUBLIC_URL": "https://handover.example.com", "HANDOVER_SANDBOX": "true"}, true},
		{"development, refused", map[string]string{"HANDOVER_SANDBOX": "false"}, false},
	} {
		cfg, err := Load(env(c.env))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Sandbox != c.want {
			t.Errorf("%s: sandbox %v, want %v", c.name, cfg.Sandbox, c.want)
		}
	}
}
