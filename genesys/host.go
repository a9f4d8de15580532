// Package genesys speaks to Genesys Cloud: its regions and hosts, and (with the
// relay) its Open Messaging API.
package genesys

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// Region is one Genesys Cloud region and its base domain.
type Region struct {
	Key    string // AWS region key, e.g. eu-central-1
	Domain string // base domain, e.g. mypurecloud.de
}

// Regions are the Genesys Cloud regions known to this build (docs/genesys.md §Hosts).
var Regions = []Region{
	{"us-east-1", "mypurecloud.com"},
	{"us-east-2", "use2.us-gov-pure.cloud"},
	{"us-west-2", "usw2.pure.cloud"},
	{"ca-central-1", "cac1.pure.cloud"},
	{"sa-east-1", "sae1.pure.cloud"},
	{"mx-central-1", "mxc1.pure.cloud"},
	{"eu-west-1", "mypurecloud.ie"},
	{"eu-west-2", "euw2.pure.cloud"},
	{"eu-central-1", "mypurecloud.de"},
	{"eu-central-2", "euc2.pure.cloud"},
	{"me-central-1", "mec1.pure.cloud"},
	{"ap-south-1", "aps1.pure.cloud"},
	{"ap-southeast-1", "apse1.pure.cloud"},
	{"ap-southeast-2", "mypurecloud.com.au"},
	{"ap-northeast-1", "mypurecloud.jp"},
	{"ap-northeast-2", "apne2.pure.cloud"},
	{"ap-northeast-3", "apne3.pure.cloud"},
}

// KnownDomain tells whether domain is the base domain of a known region.
func KnownDomain(domain string) bool {
	return slices.ContainsFunc(Regions, func(r Region) bool { return r.Domain == domain })
}

// KnownDomainList is the known base domains, for messages to admins.
func KnownDomainList() string {
	domains := make([]string, len(Regions))
	for i, r := range Regions {
		domains[i] = r.Domain
	}
	return strings.Join(domains, ", ")
}

// Host is where an endpoint's Genesys Cloud lives: a region's base domain
// ("mypurecloud.de"), or a custom base URL under which both the login and the
// API paths are served (the sandbox, tests, a proxy).
type Host string

// IsCustomBase tells whether the host is a full base URL rather than a region domain.
func (h Host) IsCustomBase() bool { return strings.Contains(string(h), "://") }

// LoginURL is the OAuth token URL for this host.
func (h Host) LoginURL() string {
	if h.IsCustomBase() {
		return string(h) + "/oauth/token"
	}
	return "https://login." + string(h) + "/oauth/token"
}

// APIBase is the base URL for Platform API paths ("/api/v2/…").
func (h Host) APIBase() string {
	if h.IsCustomBase() {
		return string(h)
	}
	return "https://api." + string(h)
}

// Warning is a plain-words caution about a host that was accepted but looks
// wrong, or "" when there is nothing to say.
func (h Host) Warning() string {
	if h == "" || h.IsCustomBase() || KnownDomain(string(h)) {
		return ""
	}
	return fmt.Sprintf("%s is not a known Genesys Cloud region. Known regions: %s.", h, KnownDomainList())
}

// hostPrefixes are labels admins copy along with the domain from a browser's
// address bar or from the API docs.
var hostPrefixes = []string{"apps.", "login.", "api."}

// ParseHost normalises what an admin typed as the Genesys host.
//
// "mypurecloud.de", "apps.mypurecloud.de", "login.mypurecloud.de" and
// "https://apps.cac1.pure.cloud/" all give the base domain. A URL with a port
// or a path, or one whose host is not a Genesys domain, is kept as a custom
// base URL; plain http is then accepted only for loopback addresses unless
// allowInsecure is set, because the OAuth client secret travels to it.
func ParseHost(input string, allowInsecure bool) (Host, error) {
	input = strings.TrimSpace(input)
	if input == "" {
		return "", errors.New("enter the Genesys Cloud region domain, for example mypurecloud.de")
	}
	if !strings.Contains(input, "://") {
		domain := strings.ToLower(strings.TrimRight(input, "/."))
		domain = trimHostPrefix(domain)
		if !validDomain(domain) {
			return "", fmt.Errorf("%q is not a domain name; enter a region domain such as mypurecloud.de or cac1.pure.cloud", input)
		}
		return Host(domain), nil
	}

	u, err := url.Parse(input)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q is not a valid URL; enter a region domain such as mypurecloud.de", input)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", fmt.Errorf("%q must start with https://", input)
	}
	hostname := strings.ToLower(u.Hostname())
	path := strings.TrimRight(u.EscapedPath(), "/")
	if scheme == "https" && u.Port() == "" && path == "" {
		if domain := trimHostPrefix(hostname); isGenesysDomain(domain) {
			return Host(domain), nil
		}
	}
	if scheme == "http" && !allowInsecure && !isLoopback(hostname) {
		return "", fmt.Errorf("%q uses plain http; only loopback addresses may (set HANDOVER_ALLOW_INSECURE_GENESYS=true to allow others)", input)
	}
	base := scheme + "://" + strings.ToLower(u.Host) + path
	return Host(base), nil
}

func trimHostPrefix(domain string) string {
	for _, prefix := range hostPrefixes {
		if rest, ok := strings.CutPrefix(domain, prefix); ok {
			return rest
		}
	}
	return domain
}

// isGenesysDomain recognises region domains, including regions newer than this build.
func isGenesysDomain(domain string) bool {
	return KnownDomain(domain) || strings.HasSuffix(domain, ".pure.cloud") || strings.HasPrefix(domain, "mypurecloud.")
}

func validDomain(domain string) bool {
	if len(domain) > 253 || !strings.Contains(domain, ".") {
		return false
	}
	for _, label := range strings.Split(domain, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

func isLoopback(hostname string) bool {
	if hostname == "localhost" {
		return true
	}
	ip := net.ParseIP(hostname)
	return ip != nil && ip.IsLoopback()
}
