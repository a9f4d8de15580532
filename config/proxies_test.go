package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestTrustedProxiesAreAddressesOrRanges(t *testing.T) {
	cfg, err := Load(env(map[string]string{"HANDOVER_TRUSTED_PROXIES": " 10.0.0.0/8, 192.0.2.1 ,::ffff:192.0.2.2, 2001:db8::/32"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32"), netip.MustParsePrefix("192.0.2.2/32"), netip.MustParsePrefix("2001:db8::/32")}
	if !slices.Equal(cfg.TrustedProxies, want) {
		t.Fatalf("trusted proxies %v, want %v", cfg.TrustedProxies, want)
	}
	for _, bad := range []string{"proxy.internal", "10.0.0.0/33", "10.0.0.1, 300.1.1.1"} {
		if _, err := Load(env(map[string]string{"HANDOVER_TRUSTED_PROXIES": bad})); err == nil || !strings.Contains(err.Error(), "HANDOVER_TRUSTED_PROXIES") {
			t.Errorf("%q: err = %v, want one naming HANDOVER_TRUSTED_PROXIES", bad, err)
		}
	}
}
