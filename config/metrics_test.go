package config

import (
	"strings"
	"testing"
)

func TestMetricsSettings(t *testing.T) {
	load := func(env map[string]string) (Config, error) {
		env["HANDOVER_DATABASE_URL"] = "sqlite:data/h.db"
		return Load(func(k string) string { return env[k] })
	}
	cfg, err := load(map[string]string{"HANDOVER_METRICS_ADDR": "127.0.0.1:9090", "HANDOVER_METRICS_TOKEN": "0123456789abcdef"})
	if err != nil || cfg.MetricsAddr != "127.0.0.1:9090" || cfg.MetricsToken != "0123456789abcdef" {
		t.Fatalf("%+v, %v", cfg, err)
	}
	if _, err := load(map[string]string{"HANDOVER_METRICS_TOKEN": "short"}); err == nil || !strings.Contains(err.Error(), "HANDOVER_METRICS_TOKEN") {
		t.Fatalf("a short token: %v", err)
	}
	if _, err := load(map[string]string{"HANDOVER_METRICS_ADDR": "9090"}); err == nil || !strings.Contains(err.Error(), "HANDOVER_METRICS_ADDR") {
		t.Fatalf("an address without a port: %v", err)
	}
}
