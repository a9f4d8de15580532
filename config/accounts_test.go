package config

import (
	"strings"
	"testing"
	"time"
)

func TestAnAdminPasswordFromTheEnvironmentNeedsTwelveCharacters(t *testing.T) {
	for _, short := range []string{"short", "elevenchars", "ééééééééééé"} {
		_, err := Load(env(map[string]string{"HANDOVER_ADMIN_PASSWORD": short}))
		if err == nil || !strings.Contains(err.Error(), "HANDOVER_ADMIN_PASSWORD: use at least 12 characters") {
			t.Errorf("%q: err = %v, want one asking for at least 12 characters", short, err)
		}
	}
	if _, err := Load(env(map[string]string{"HANDOVER_ADMIN_PASSWORD": strings.Repeat("é", 37)})); err == nil || !strings.Contains(err.Error(), "at most 72 bytes") {
		t.Errorf("a password bcrypt would cut: err = %v", err)
	}
	for _, fine := range []string{"", "twelve chars", "ééééééééééé1"} {
		if _, err := Load(env(map[string]string{"HANDOVER_ADMIN_PASSWORD": fine})); err != nil {
			t.Errorf("%q: %v", fine, err)
		}
	}
}

func TestConsoleSessionsEndAfterTwelveIdleHoursUnlessConfigured(t *testing.T) {
	cfg, err := Load(env(nil))
	if err != nil || cfg.SessionIdleTimeout != 12*time.Hour {
		t.Fatalf("default idle timeout %s, %v; want 12h", cfg.SessionIdleTimeout, err)
	}
	if cfg, err = Load(env(map[string]string{"HANDOVER_SESSION_IDLE_TIMEOUT": "30m"})); err != nil || cfg.SessionIdleTimeout != 30*time.Minute {
		t.Fatalf("idle timeout %s, %v; want 30m", cfg.SessionIdleTimeout, err)
	}
	for _, bad := range []string{"0", "-1h", "a while"} {
		if _, err := Load(env(map[string]string{"HANDOVER_SESSION_IDLE_TIMEOUT": bad})); err == nil || !strings.Contains(err.Error(), "HANDOVER_SESSION_IDLE_TIMEOUT") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}
