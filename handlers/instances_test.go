package handlers_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/handover-relay/handover/store"
)

func TestTheInstancesAPIListsEachInstanceWithWhatItOwns(t *testing.T) {
	a := newAPITestApp(t, nil)
	ctx := context.Background()
	e := store.Endpoint{OrganisationID: 1, Name: "Support", URLToken: "token-1", Provider: store.ProviderGenesysCloudOM,
		Host: "login.mypurecloud.de", ClientID: "client-1", ClientSecret: "secret", QueueID: "q-1"}
	if err := a.store.CreateEndpoint(ctx, &e); err != nil {
		t.Fatal(err)
	}
	for _, inst := range []store.Instance{{ID: "alive-1", Version: "v2", Address: "host-a:8080"}, {ID: "gone-1", Version: "v1", Address: "host-b:8080"}} {
		if err := a.store.Heartbeat(ctx, inst); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.store.StopInstance(ctx, "gone-1"); err != nil {
		t.Fatal(err)
	}
	// What the relay of alive-1 would own for the endpoint's OAuth client.
	ownerships, err := a.relay.Ownerships(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ownerships) != 1 {
		t.Fatalf("ownerships %v; want the one OAuth client", ownerships)
	}
	if _, held, err := a.store.Own(ctx, ownerships[0], "alive-1", time.Minute, time.Minute); err != nil || !held {
		t.Fatalf("own: %v %v", held, err)
	}

	if resp, _ := a.api(http.MethodGet, "/api/v1/admin/instances", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a key: %d, want 401", resp.StatusCode)
	}
	resp, body := a.api(http.MethodGet, "/api/v1/admin/instances", seededKey, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET instances: %d %v", resp.StatusCode, body)
	}
	byID := map[string]map[string]any{}
	for _, raw := range body["instances"].([]any) {
		inst := raw.(map[string]any)
		byID[inst["id"].(string)] = inst
	}
	alive, gone := byID["alive-1"], byID["gone-1"]
	if alive == nil || gone == nil {
		t.Fatalf("instances %v; want alive-1 and gone-1", body)
	}
	if alive["alive"] != true || alive["version"] != "v2" || alive["address"] != "host-a:8080" || gone["alive"] != false || gone["stoppedAt"] == nil {
		t.Fatalf("alive-1 %v, gone-1 %v", alive, gone)
	}
	owns := alive["owns"].([]any)
	if len(owns) != 1 {
		t.Fatalf("alive-1 owns %v; want the OAuth client", owns)
	}
	endpoints := owns[0].(map[string]any)["endpoints"].([]any)
	if len(endpoints) != 1 || endpoints[0].(map[string]any)["name"] != "Support" {
		t.Fatalf("owned endpoints %v; want Support", endpoints)
	}
	if len(gone["owns"].([]any)) != 0 {
		t.Fatalf("a stopped instance owns %v", gone["owns"])
	}
}
