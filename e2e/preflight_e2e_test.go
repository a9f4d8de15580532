package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/handover-relay/handover/genesys/sandbox"
	"github.com/handover-relay/handover/internal/testkit"
	"github.com/handover-relay/handover/store"
)

// preflightCheck is one row of the pre-flight section as the console shows it.
type preflightCheck struct{ status, detail, fix string }

// runPreflight presses "Test connection" on the endpoint page as an admin's
// browser would (htmx, CSRF) and reads the rows of the answer.
func runPreflight(t *testing.T, inst *instance, client *http.Client, endpointID int64) map[string]preflightCheck {
	t.Helper()
	page := fmt.Sprintf("%s/endpoints/%d", inst.base, endpointID)
	resp, err := client.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := regexp.MustCompile(`name="_csrf" value="([0-9a-f]+)"`).FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || csrf == nil {
		t.Fatalf("endpoint page: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, page+"/preflight", strings.NewReader(url.Values{"_csrf": {string(csrf[1])}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("HX-Request", "true")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("Test connection: %d %s", resp.StatusCode, b)
	}
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]preflightCheck{}
	doc.Find(`[data-testid="preflight-check"]`).Each(func(_ int, s *goquery.Selection) {
		key, _ := s.Attr("data-check")
		status, _ := s.Attr("data-status")
		out[key] = preflightCheck{status: status, detail: s.Find(`[data-testid="preflight-detail"]`).Text(), fix: s.Find(`[data-testid="preflight-fix"]`).Text()}
	})
	if len(out) != 7 {
		t.Fatalf("%d checks shown: %v", len(out), out)
	}
	return out
}

func TestPreflightAgainstTheSandboxPassesWhenGenesysIsSetUpRight(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	inst := d.start()
	client := testkit.SignedInClient(t, inst.base, "admin", "e2e-password")

	checks := runPreflight(t, inst, client, d.endpoint.ID)
	for key, c := range checks {
		if c.status != store.CheckPassed || c.fix != "" {
			t.Errorf("check %s: %s %q (fix %q)", key, c.status, c.detail, c.fix)
		}
	}
	if !strings.Contains(checks["queue_topic"].detail, "v2.routing.queues."+e2eQueueID+".conversations.messages is Permitted") {
		t.Errorf("topic detail %q", checks["queue_topic"].detail)
	}
	if !strings.Contains(checks["webhook_url"].detail, inst.base+"/handover/genesysCloudOM") {
		t.Errorf("webhook detail %q", checks["webhook_url"].detail)
	}

	latest, err := inst.srv.Store.LatestPreflightResult(context.Background(), d.endpoint.ID)
	if err != nil || !latest.Passed() {
		t.Fatalf("kept result %+v, %v", latest, err)
	}
	// The checks' Genesys calls are in the call log like every other call.
	page, err := inst.srv.Store.ListAPICalls(context.Background(), store.APICallFilter{EndpointID: d.endpoint.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	for _, call := range page.Rows {
		if call.ConversationID == nil {
			paths[call.Method+" "+call.Path] = true
		}
	}
	for _, want := range []string{"POST /oauth/token", "GET /api/v2/conversations/messaging/integrations/open", "POST /api/v2/notifications/channels"} {
		if !paths[want] {
			t.Errorf("%s is not in the call log: %v", want, paths)
		}
	}
}

func TestPreflightFailsWithTheFixWhenTheWebhookURLOrDeploymentNameIsWrong(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	g.AddIntegration("points-elsewhere", "https://old-relay.example.com/genesys/webhook", d.secret)
	inst := d.start()
	client := testkit.SignedInClient(t, inst.base, "admin", "e2e-password")
	ctx := context.Background()
	update := func(change func(*store.Endpoint)) {
		t.Helper()
		e, err := inst.srv.Store.EndpointByID(ctx, d.endpoint.ID)
		if err != nil {
			t.Fatal(err)
		}
		change(&e)
		if err := inst.srv.Store.UpdateEndpoint(ctx, &e); err != nil {
			t.Fatal(err)
		}
	}

	// The integration sends its webhooks somewhere else.
	update(func(e *store.Endpoint) { e.DeploymentName = "points-elsewhere" })
	checks := runPreflight(t, inst, client, d.endpoint.ID)
	if c := checks["deployment"]; c.status != store.CheckPassed {
		t.Fatalf("deployment: %+v", c)
	}
	c := checks["webhook_url"]
	if c.status != store.CheckFailed || !strings.Contains(c.detail, "https://old-relay.example.com/genesys/webhook") ||
		!strings.Contains(c.fix, `"points-elsewhere"`) || !strings.Contains(c.fix, "set Outbound Notification Webhook URL to "+inst.base+"/handover/genesysCloudOM") {
		t.Fatalf("webhook_url: %+v", c)
	}

	// A Deployment Name that resolves to nothing: the names that exist, and what to do.
	update(func(e *store.Endpoint) { e.DeploymentName = "bot-relay-typo" })
	checks = runPreflight(t, inst, client, d.endpoint.ID)
	c = checks["deployment"]
	if c.status != store.CheckFailed || !strings.Contains(c.detail, `"`+e2eDeployment+`"`) || !strings.Contains(c.fix, "exact name") {
		t.Fatalf("deployment: %+v", c)
	}
	if checks["webhook_url"].status != store.CheckSkipped || checks["token"].status != store.CheckPassed || checks["queue_topic"].status != store.CheckPassed {
		t.Fatalf("other checks: %+v", checks)
	}
	if e, _ := inst.srv.Store.EndpointByID(ctx, d.endpoint.ID); !strings.Contains(e.IntegrationError, "bot-relay-typo") {
		t.Fatalf("the endpoint page's integration error %q", e.IntegrationError)
	}

	// A queue the client may not see, and a wrong client secret.
	update(func(e *store.Endpoint) {
		e.DeploymentName, e.QueueID = e2eDeployment, "00000000-0000-4000-8000-000000000000"
	})
	checks = runPreflight(t, inst, client, d.endpoint.ID)
	if c := checks["queue_topic"]; c.status != store.CheckFailed || !strings.Contains(c.detail, "Rejected") || !strings.Contains(c.fix, "division") {
		t.Fatalf("queue_topic: %+v", c)
	}
	update(func(e *store.Endpoint) { e.ClientSecret = "not-the-secret" })
	checks = runPreflight(t, inst, client, d.endpoint.ID)
	if c := checks["token"]; c.status != store.CheckFailed || !strings.Contains(c.fix, "Client Credentials") {
		t.Fatalf("token: %+v", c)
	}
	if checks["deployment"].status != store.CheckSkipped || checks["queue_topic"].status != store.CheckSkipped {
		t.Fatalf("checks after a failed token: %+v", checks)
	}

	// Every run is kept with its time; the page shows the latest.
	if n, err := inst.srv.Store.PreflightResultCount(ctx, d.endpoint.ID); err != nil || n != 4 {
		t.Fatalf("%d runs kept, %v", n, err)
	}
	resp, err := client.Get(fmt.Sprintf("%s/endpoints/%d", inst.base, d.endpoint.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	doc, _ := goquery.NewDocumentFromReader(resp.Body)
	if doc.Find(`[data-testid="preflight-check"][data-check="token"][data-status="fail"]`).Length() != 1 {
		t.Fatal("the endpoint page does not show the latest run")
	}
}

func TestPreflightSaysWhichFeatureIsOffWhenAQueuePermissionIsMissing(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	inst := d.start()
	client := testkit.SignedInClient(t, inst.base, "admin", "e2e-password")
	g.SetFault(sandbox.Fault{Status: http.StatusForbidden, PathContains: "/estimatedwaittime"})

	checks := runPreflight(t, inst, client, d.endpoint.ID)
	c := checks["availability"]
	if c.status != store.CheckWarning || !strings.Contains(c.detail, "the estimated wait") || !strings.Contains(c.fix, "routing:queue:view") {
		t.Fatalf("availability check with routing:queue:view missing: %+v", c)
	}
	if checks["token"].status != store.CheckPassed {
		t.Fatalf("the other checks changed: %v", checks)
	}
}
