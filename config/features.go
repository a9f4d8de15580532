package config

import (
	"fmt"
	"slices"
	"strings"
)

// Features are the on-premise feature flags. Their names and their list syntax
// (comma-separated organisation names, "*" for all) are the ones operators
// already use in their deployment manifests.
type Features struct {
	// GenesysCloudOM is FEATURE_ENABLE_GENESYS_CLOUD_OM: the provider at all.
	GenesysCloudOM bool
	// GenesysCloudOMWhitelist is FEATURE_ENABLE_GENESYS_CLOUD_OM_WHITELIST:
	// the organisations that may use the provider.
	GenesysCloudOMWhitelist Whitelist
	// BotConnectorWhitelist is FEATURE_USE_GENESYS_BOT_CONNECTOR_ENDPOINT_WHITELIST:
	// the organisations that may use Genesys Bot Connector endpoints.
	BotConnectorWhitelist Whitelist
}

// Whitelist is a list of organisation names; "*" admits every organisation.
type Whitelist []string

// parseWhitelist reads a comma-separated list. Unset or blank means "*": a flag
// left out of a manifest must not switch a feature off for everyone.
func parseWhitelist(raw string) Whitelist {
	list := Whitelist(splitList(raw))
	if len(list) == 0 {
		return Whitelist{"*"}
	}
	return list
}

// Admits tells whether the organisation is on the list (names compare without regard to case).
func (w Whitelist) Admits(organisation string) bool {
	return slices.ContainsFunc(w, func(name string) bool {
		return name == "*" || strings.EqualFold(name, organisation)
	})
}

func (w Whitelist) String() string {
	if slices.Contains(w, "*") {
		return "every organisation (*)"
	}
	return strings.Join(w, ", ")
}

// GenesysCloudOMFor says whether an organisation may use the Genesys Cloud Open
// Messaging provider and, when it may not, why in words an admin can act on.
func (f Features) GenesysCloudOMFor(organisation string) (bool, string) {
	if !f.GenesysCloudOM {
		return false, "Genesys Cloud Open Messaging is switched off for this installation (FEATURE_ENABLE_GENESYS_CLOUD_OM=false)."
	}
	if !f.GenesysCloudOMWhitelist.Admits(organisation) {
		return false, fmt.Sprintf("Genesys Cloud Open Messaging is not enabled for organisation %q: it is not listed in FEATURE_ENABLE_GENESYS_CLOUD_OM_WHITELIST (%s).", organisation, f.GenesysCloudOMWhitelist)
	}
	return true, ""
}

// BotConnectorFor says whether an organisation may use Genesys Bot Connector endpoints.
func (f Features) BotConnectorFor(organisation string) bool {
	return f.BotConnectorWhitelist.Admits(organisation)
}
