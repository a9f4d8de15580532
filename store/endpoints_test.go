package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
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

// A clock that stays skewed shows on every webhook; the endpoint is written
// again only when the skew moved by a second or a minute went by, or every
// webhook would write it (and empty every instance's endpoint cache).
func TestAClockSkewThatStaysIsRecordedAgainOnlyWhenItMovesOrAMinuteWentBy(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e := newEndpoint(t, s, "skewed")
		first := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
		steps := []struct {
			after    time.Duration
			skew     time.Duration
			wantSkew time.Duration
			wantAt   time.Duration // after first
		}{
			{0, -2 * time.Hour, -2 * time.Hour, 0},
			{10 * time.Second, -2*time.Hour - 500*time.Millisecond, -2 * time.Hour, 0},                       // the same skew, soon after: kept
			{20 * time.Second, -2*time.Hour - 2*time.Second, -2*time.Hour - 2*time.Second, 20 * time.Second}, // moved by 2 s
			{50 * time.Second, -2*time.Hour - 2*time.Second, -2*time.Hour - 2*time.Second, 20 * time.Second}, // the same, 30 s later: kept
			{90 * time.Second, -2*time.Hour - 2*time.Second, -2*time.Hour - 2*time.Second, 90 * time.Second}, // over a minute later
		}
		for i, step := range steps {
			if err := s.RecordClockSkew(ctx, e.ID, step.skew, first.Add(step.after)); err != nil {
				t.Fatal(err)
			}
			got, err := s.EndpointByID(ctx, e.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.ClockSkewMS != step.wantSkew.Milliseconds() || got.ClockSkewAt == nil || !got.ClockSkewAt.Equal(first.Add(step.wantAt)) {
				t.Fatalf("step %d: skew %d ms at %v, want %d ms at %v", i, got.ClockSkewMS, got.ClockSkewAt, step.wantSkew.Milliseconds(), first.Add(step.wantAt))
			}
		}
	})
}
