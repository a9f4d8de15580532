package handlers

import (
	"net"
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/store"
)

// localClientAddress is the c.Locals key of the address ClientAddresses
// decided; localMaskAddress marks a request of an endpoint that masks it.
const (
	localClientAddress = "clientAddress"
	localMaskAddress   = "maskClientAddress"
)

// ClientAddresses decides which address a request came from: the one that
// sign-in throttling counts against and every log line names.
//
// Behind trusted proxies that is the rightmost X-Forwarded-For entry that is
// not itself a trusted proxy: each proxy appends the address it saw, so
// everything left of that entry was written by the client and proves
// nothing. Anyone else's X-Forwarded-For is ignored.
type ClientAddresses struct {
	TrustedProxies []netip.Prefix
}

// Remember decides the request's client address once and keeps it for
// ClientAddress; mounted first, before anything that logs or limits.
func (ca ClientAddresses) Remember(c *fiber.Ctx) error {
	var forwardedFor []string
	for _, v := range c.Request().Header.PeekAll(fiber.HeaderXForwardedFor) {
		forwardedFor = append(forwardedFor, string(v))
	}
	remote, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	c.Locals(localClientAddress, ca.Resolve(remote, forwardedFor).String())
	return c.Next()
}

// Resolve returns the client address of a connection from remote that
// carried the X-Forwarded-For header lines forwardedFor (in order). It is
// remote itself unless remote is a trusted proxy and the header names a
// valid address before an invalid entry stops the walk.
func (ca ClientAddresses) Resolve(remote netip.Addr, forwardedFor []string) netip.Addr {
	remote = remote.Unmap()
	if !ca.trusted(remote) {
		return remote
	}
	var entries []string
	for _, line := range forwardedFor {
		entries = append(entries, strings.Split(line, ",")...)
	}
	client := remote
	for i := len(entries) - 1; i >= 0; i-- {
		addr, ok := parseForwardedAddress(entries[i])
		if !ok {
			// Garbage from, or passed through by, a trusted proxy: nothing
			// left of it can be believed; the last proxy is the best we know.
			return remote
		}
		client = addr
		if !ca.trusted(addr) {
			return addr
		}
	}
	// Every hop is a trusted address: the leftmost is the furthest known.
	return client
}

func (ca ClientAddresses) trusted(addr netip.Addr) bool {
	for _, p := range ca.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// parseForwardedAddress reads one X-Forwarded-For entry: an IP address, with
// a port ("203.0.113.7:4711", "[2001:db8::1]:4711") as some proxies write it.
func parseForwardedAddress(entry string) (netip.Addr, bool) {
	entry = strings.TrimSpace(entry)
	if addr, err := netip.ParseAddr(entry); err == nil {
		return addr.Unmap().WithZone(""), true
	}
	if host, _, err := net.SplitHostPort(entry); err == nil {
		if addr, err := netip.ParseAddr(host); err == nil {
			return addr.Unmap().WithZone(""), true
		}
	}
	return netip.Addr{}, false
}

// ClientAddress is the request's client address as ClientAddresses.Remember
// decided it; the peer's address where that middleware did not run.
func ClientAddress(c *fiber.Ctx) string {
	if addr, ok := c.Locals(localClientAddress).(string); ok {
		return addr
	}
	return c.Context().RemoteIP().String()
}

// rememberEndpoint marks a public request as one of endpoint e, so that its
// client address is logged masked when the endpoint asks for it
// (maskIpAddress, docs/privacy.md).
func rememberEndpoint(c *fiber.Ctx, e store.Endpoint) {
	if e.Privacy.MaskIPAddress {
		c.Locals(localMaskAddress, true)
	}
}

// LoggedClientAddress is the client address as the request log shows it:
// masked (MaskAddress) on the public routes of an endpoint with maskIpAddress.
func LoggedClientAddress(c *fiber.Ctx) string {
	addr := ClientAddress(c)
	if mask, _ := c.Locals(localMaskAddress).(bool); mask {
		return MaskAddress(addr)
	}
	return addr
}

// MaskAddress keeps the network part of an address and zeroes the host:
// the first 24 bits of IPv4, the first 48 of IPv6 (the convention of web
// analytics' IP anonymisation). Anything that is not an address becomes "***".
func MaskAddress(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return "***"
	}
	bits := 48
	if a.Unmap().Is4() {
		a, bits = a.Unmap(), 24
	}
	prefix, err := a.WithZone("").Prefix(bits)
	if err != nil {
		return "***"
	}
	return prefix.Addr().String()
}
