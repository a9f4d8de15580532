package store_test

import (
	"testing"
	"time"

	"github.com/handover-relay/handover/store"
)

func TestConfigureKeepsAReplacedWebhookSecretVerifyingForTheGrace(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	e := store.Endpoint{IntegrationID: "resolved", Host: "mypurecloud.de", DeploymentName: "d", ClientID: "c"}
	e.WebhookSecret = "the-first-secret-16"
	settings := store.EndpointSettings{Name: "n", Genesys: store.GenesysSettings{
		Host: "mypurecloud.de", DeploymentName: "d", ClientID: "c", WebhookSecret: "the-second-secret-16",
	}}
	e.Configure(settings, time.Hour, now)
	if e.WebhookSecret != "the-second-secret-16" || e.PreviousWebhookSecret != "the-first-secret-16" {
		t.Fatalf("secrets = %q, previous %q", e.WebhookSecret, e.PreviousWebhookSecret)
	}
	if e.PreviousWebhookSecretUntil == nil || !e.PreviousWebhookSecretUntil.Equal(now.Add(time.Hour)) {
		t.Fatalf("previous secret verifies until %v, want %v", e.PreviousWebhookSecretUntil, now.Add(time.Hour))
	}
	if e.IntegrationID != "resolved" {
		t.Fatal("the same org, integration and client forgot the resolved integration")
	}

	settings.Genesys.DeploymentName = "another"
	e.Configure(settings, time.Hour, now)
	if e.IntegrationID != "" {
		t.Fatal("another deployment name kept the old integration id")
	}
	if !e.PreviousWebhookSecretUntil.Equal(now.Add(time.Hour)) || e.PreviousWebhookSecret != "the-first-secret-16" {
		t.Fatal("saving the same secret again started another grace period")
	}
}
