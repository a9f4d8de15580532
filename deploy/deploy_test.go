package deploy_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/handover-relay/handover/metrics"
)

// dashboard is the part of Grafana's dashboard JSON model the test checks.
type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos *struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Datasource struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// grafanaVariables stand in for Grafana's variables so that an expression
// parses as PromQL.
var grafanaVariables = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$job", ".*")

func TestTheGrafanaDashboardIsAValidModelOfExportedMetrics(t *testing.T) {
	data, err := os.ReadFile("grafana/handover.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 39 || len(d.Panels) == 0 {
		t.Fatalf("uid %q, title %q, schemaVersion %d, %d panels: want all set, schemaVersion 39 or later", d.UID, d.Title, d.SchemaVersion, len(d.Panels))
	}
	variables := map[string]string{}
	for _, v := range d.Templating.List {
		variables[v.Name] = v.Type
	}
	if variables["datasource"] != "datasource" {
		t.Fatalf("no datasource variable: %v", variables)
	}
	ids := map[int]bool{}
	var exprs []string
	for _, p := range d.Panels {
		if p.ID == 0 || ids[p.ID] || p.Type == "" || p.Title == "" || p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 {
			t.Errorf("panel %d %q: needs a unique id, a type, a title and a gridPos", p.ID, p.Title)
		}
		ids[p.ID] = true
		if p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: datasource %+v, %d targets", p.Title, p.Datasource, len(p.Targets))
		}
		for _, target := range p.Targets {
			if target.RefID == "" || target.Expr == "" {
				t.Errorf("panel %q: a target without refId or expr", p.Title)
			}
			exprs = append(exprs, grafanaVariables.Replace(target.Expr))
		}
	}
	checkMetrics(t, exprs)
}

func TestTheAlertRulesLoadAsPrometheusLoadsThemAndReadExportedMetrics(t *testing.T) {
	groups, errs := rulefmt.ParseFile("prometheus/alerts.yml", false, model.UTF8Validation, parser.NewParser(parser.Options{}), nil)
	if len(errs) > 0 {
		t.Fatalf("the rules do not load: %v", errs)
	}
	var exprs []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" || r.For == 0 {
				t.Errorf("rule %q: needs a name, a severity, a summary, a description and a for", r.Alert)
			}
			exprs = append(exprs, r.Expr)
		}
	}
	if len(exprs) < 4 {
		t.Fatalf("%d rules, want the outbox, signature, Genesys-unreachable and throttling alerts at least", len(exprs))
	}
	checkMetrics(t, exprs)
}

// checkMetrics parses each expression and fails for every metric it reads
// that the binary does not export.
func checkMetrics(t *testing.T, exprs []string) {
	t.Helper()
	exported := exportedFamilies(t)
	promql := parser.NewParser(parser.Options{})
	var read []string
	for _, e := range exprs {
		expr, err := promql.ParseExpr(e)
		if err != nil {
			t.Errorf("%s: %v", e, err)
			continue
		}
		parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
			if v, ok := node.(*parser.VectorSelector); ok {
				read = append(read, v.Name)
			}
			return nil
		})
	}
	if unknown := unknownMetrics(read, exported); len(unknown) > 0 {
		t.Errorf("metrics read but not exported: %v (exported: %v)", unknown, exported)
	}
}

// unknownMetrics lists the names in read that are no exported family, a
// histogram's _bucket, _sum and _count series counting as the family.
func unknownMetrics(read, exported []string) []string {
	var unknown []string
	for _, name := range read {
		family := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && slices.Contains(exported, base) {
				family = base
			}
		}
		if !slices.Contains(exported, family) && !slices.Contains(unknown, name) {
			unknown = append(unknown, name)
		}
	}
	return unknown
}

func TestUnknownMetricsFindsAMisspeltName(t *testing.T) {
	exported := []string{"handover_webhooks_total", "handover_time_to_agent_joined_seconds"}
	got := unknownMetrics([]string{"handover_webhooks_total", "handover_time_to_agent_joined_seconds_bucket", "handover_webhook_total"}, exported)
	if !slices.Equal(got, []string{"handover_webhook_total"}) {
		t.Fatalf("unknown %v, want the misspelt handover_webhook_total alone", got)
	}
}

// exportedFamilies builds the binary's metrics as the app does, makes each
// family show at least one series (a vector with no observation is not
// gathered), and answers the family names.
func exportedFamilies(t *testing.T) []string {
	t.Helper()
	m := metrics.New(metrics.Sources{Outbox: fakeStore{}, BotDeliveries: fakeStore{}, Open: fakeStore{}, Watchers: fakeBroker{}})
	m.HandoverRequested()
	m.HandoverQueued()
	m.AgentJoined(time.Second)
	m.FirstAgentMessage(time.Second)
	m.HandoverEnded("agent_ended")
	m.HandoverFailed("undelivered")
	m.Webhook("valid")
	m.AcceptError()
	genesys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer genesys.Close()
	client := &http.Client{Transport: m.Transport(nil)}
	resp, err := client.Get(genesys.URL + "/api/v2/conversations/messages/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	return names
}

type fakeStore struct{}

func (fakeStore) OutboxBacklog(context.Context) (int64, time.Duration, error) { return 0, 0, nil }
func (fakeStore) BotDeliveryBacklog(context.Context) (int64, time.Duration, error) {
	return 0, 0, nil
}
func (fakeStore) OpenHandovers(context.Context) (int64, int64, error) { return 0, 0, nil }

type fakeBroker struct{}

func (fakeBroker) Subscribers() int { return 0 }
