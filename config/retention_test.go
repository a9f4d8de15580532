package config

import (
	"strings"
	"testing"
	"time"
)

func TestWebhookRetentionIsTwoWeeksByDefaultAndZeroKeepsEverything(t *testing.T) {
	for value, want := range map[string]time.Duration{"": 336 * time.Hour, "0": 0, "72h": 72 * time.Hour} {
		cfg, err := Load(env(map[string]string{"HANDOVER_WEBHOOK_RETENTION": value}))
		if err != nil || cfg.WebhookRetention != want {
			t.Fatalf("HANDOVER_WEBHOOK_RETENTION=%q: %s, %v; want %s", value, cfg.WebhookRetention, err, want)
		}
	}
	if _, err := Load(env(map[string]string{"HANDOVER_WEBHOOK_RETENTION": "two weeks"})); err == nil || !strings.Contains(err.Error(), "HANDOVER_WEBHOOK_RETENTION") {
		t.Fatalf("a bad retention: %v", err)
	}
}

func TestRefusedWebhooksAreLoggedSixtyAMinutePerSourceByDefault(t *testing.T) {
	for value, want := range map[string]int{"": 60, "5": 5} {
		cfg, err := Load(env(map[string]string{"HANDOVER_REFUSED_LOG_PER_MINUTE": value}))
		if err != nil || cfg.RefusedLogPerMinute != want {
			t.Fatalf("HANDOVER_REFUSED_LOG_PER_MINUTE=%q: %d, %v; want %d", value, cfg.RefusedLogPerMinute, err, want)
		}
	}
	for _, bad := range []string{"0", "-1", "many"} {
		if _, err := Load(env(map[string]string{"HANDOVER_REFUSED_LOG_PER_MINUTE": bad})); err == nil || !strings.Contains(err.Error(), "HANDOVER_REFUSED_LOG_PER_MINUTE") {
			t.Fatalf("HANDOVER_REFUSED_LOG_PER_MINUTE=%q: %v", bad, err)
		}
	}
}

func TestTheLogsAreCappedAtOneGigabyteByDefaultAndZeroLiftsTheCap(t *testing.T) {
	for value, want := range map[string]int64{"": 1 << 30, "0": 0, "1073741824": 1 << 30, "500MB": 500 << 20, "2 GiB": 2 << 30, "64kb": 64 << 10, "100B": 100} {
		cfg, err := Load(env(map[string]string{"HANDOVER_LOG_MAX_BYTES": value}))
		if err != nil || cfg.LogMaxBytes != want {
			t.Fatalf("HANDOVER_LOG_MAX_BYTES=%q: %d, %v; want %d", value, cfg.LogMaxBytes, err, want)
		}
	}
	for _, bad := range []string{"-1", "1.5GB", "lots", "GB", "9999999999TB"} {
		if _, err := Load(env(map[string]string{"HANDOVER_LOG_MAX_BYTES": bad})); err == nil || !strings.Contains(err.Error(), "HANDOVER_LOG_MAX_BYTES") {
			t.Fatalf("HANDOVER_LOG_MAX_BYTES=%q: %v", bad, err)
		}
	}
}
