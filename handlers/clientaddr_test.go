package handlers_test

import (
	"net/netip"
	"testing"

	"github.com/handover-relay/handover/handlers"
)

func TestTheClientAddressIsTheRightmostForwardedAddressThatIsNoTrustedProxy(t *testing.T) {
	ca := handlers.ClientAddresses{TrustedProxies: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32"), netip.MustParsePrefix("2001:db8:1::/48"),
	}}
	proxy, ipv6Proxy, stranger := netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("2001:db8:1::9"), netip.MustParseAddr("198.51.100.9")
	cases := []struct {
		name         string
		remote       netip.Addr
		forwardedFor []string
		want         string
	}{
		{"no header from a proxy", proxy, nil, "10.1.2.3"},
		{"one hop", proxy, []string{"203.0.113.7"}, "203.0.113.7"},
		{"a prefix the client wrote", proxy, []string{"10.9.4.1, 203.0.113.7"}, "203.0.113.7"},
		{"a forged prefix that is not an address", proxy, []string{"nonsense, 203.0.113.7"}, "203.0.113.7"},
		{"two trusted hops", proxy, []string{"203.0.113.7, 192.0.2.1"}, "203.0.113.7"},
		{"hops on two header lines", proxy, []string{"1.1.1.1, 203.0.113.7", "10.4.4.4"}, "203.0.113.7"},
		{"an entry with a port", proxy, []string{"203.0.113.7:4711"}, "203.0.113.7"},
		{"an IPv6 client", ipv6Proxy, []string{"[2001:db8:2::5]:443"}, "2001:db8:2::5"},
		{"an IPv4-mapped client", proxy, []string{"::ffff:203.0.113.7"}, "203.0.113.7"},
		{"an invalid rightmost entry", proxy, []string{"203.0.113.7, garbage"}, "10.1.2.3"},
		{"an empty header", proxy, []string{""}, "10.1.2.3"},
		{"only trusted hops", proxy, []string{"10.5.5.5, 10.6.6.6"}, "10.5.5.5"},
		{"a header from an untrusted peer", stranger, []string{"203.0.113.7"}, "198.51.100.9"},
		{"an IPv4-mapped peer", netip.MustParseAddr("::ffff:10.1.2.3"), []string{"203.0.113.7"}, "203.0.113.7"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ca.Resolve(c.remote, c.forwardedFor); got.String() != c.want {
				t.Fatalf("Resolve(%s, %q) = %s, want %s", c.remote, c.forwardedFor, got, c.want)
			}
		})
	}
	if got := (handlers.ClientAddresses{}).Resolve(proxy, []string{"203.0.113.7"}); got != proxy {
		t.Fatalf("without trusted proxies the header was believed: %s", got)
	}
}

func TestMaskAddressKeepsTheNetworkAndZeroesTheHost(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.77":        "203.0.113.0",
		"127.0.0.1":           "127.0.0.0",
		"::ffff:198.51.100.9": "198.51.100.0",
		"2001:db8:abcd:12::1": "2001:db8:abcd::",
		"fe80::1%eth0":        "fe80::",
		"not an address":      "***",
		"":                    "***",
	} {
		if got := handlers.MaskAddress(in); got != want {
			t.Errorf("MaskAddress(%q) = %q, want %q", in, got, want)
		}
	}
}
