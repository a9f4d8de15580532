package handlers_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/handover-relay/handover/store"
)

func TestTheDashboardChartsHaveTextAlternativesAndFollowTheFilters(t *testing.T) {
	a := newTestApp(t, nil)
	a.signIn()
	a.postForm("/endpoints", validEndpointForm())
	a.postForm("/endpoints", withName(validEndpointForm(), "Other"))
	endpoints, err := a.store.ListEndpoints(context.Background())
	if err != nil || len(endpoints) != 2 {
		t.Fatalf("endpoints: %v, %v", endpoints, err)
	}
	ctx := context.Background()
	created := time.Now().UTC().Add(-10 * time.Minute)
	for i, state := range []string{store.StateQueued, store.StateFailed, store.StateQueued} {
		endpoint := endpoints[0].ID
		if i == 2 {
			endpoint = endpoints[1].ID
		}
		c := &store.Conversation{EndpointID: endpoint, SessionID: strconv.Itoa(i), UserID: "u", CustomerID: "c" + strconv.Itoa(i), State: state, CreatedAt: created}
		if state == store.StateFailed {
			c.EndedAt = &created
		}
		if err := a.store.CreateConversation(ctx, c); err != nil {
			t.Fatal(err)
		}
	}

	doc := a.document(a.get("/?range=1h"), http.StatusOK)
	figures := doc.Find(`[data-testid="dashboard-charts"] figure.chart`)
	if figures.Length() != 4 {
		t.Fatalf("%d charts, want handovers, first reply, webhooks and Genesys calls", figures.Length())
	}
	figures.Each(func(_ int, fig *goquery.Selection) {
		svg := fig.Find("svg")
		if role, _ := svg.Attr("role"); role != "img" {
			t.Errorf("chart svg role %q, want img", role)
		}
		labelled, _ := svg.Attr("aria-labelledby")
		for _, id := range strings.Fields(labelled) {
			if strings.TrimSpace(doc.Find("#"+id).Text()) == "" {
				t.Errorf("aria-labelledby names %q, which is missing or empty", id)
			}
		}
		if fig.Find("table caption").Length() != 1 || fig.Find(`table th[scope="col"]`).Length() < 2 || fig.Find(`table th[scope="row"]`).Length() != 12 {
			t.Errorf("chart %q: its data table needs a caption, column headers and one row header per interval", fig.Find("figcaption").Text())
		}
	})
	handovers := doc.Find(`[data-testid="chart-chart-handovers"]`)
	if desc := handovers.Find("desc").Text(); !strings.Contains(desc, "requested highest 3 at") || !strings.Contains(desc, "failed highest 1 at") {
		t.Errorf("the handovers chart's summary is %q", desc)
	}
	if selected := doc.Find(`select[name="range"] option[selected]`).AttrOr("value", ""); selected != "1h" {
		t.Errorf("the period select shows %q, want 1h", selected)
	}

	// The fragment the filters and live updates fetch: one endpoint, a week.
	frag := readBody(t, a.request(http.MethodGet, "/dashboard/charts?range=7d&endpoint="+strconv.FormatInt(endpoints[1].ID, 10), nil, map[string]string{"HX-Request": "true"}))
	if strings.Contains(frag, "<html") || !strings.Contains(frag, `data-testid="dashboard-charts"`) {
		t.Fatal("the charts fragment is not the charts alone")
	}
	part, err := goquery.NewDocumentFromReader(strings.NewReader(frag))
	if err != nil {
		t.Fatal(err)
	}
	if period := part.Find(`[data-testid="chart-period"]`).Text(); !strings.Contains(period, "Last 7 days, "+endpoints[1].Name) {
		t.Errorf("period %q", period)
	}
	if desc := part.Find(`[data-testid="chart-chart-handovers"] desc`).Text(); !strings.Contains(desc, "requested highest 1 at") || strings.Contains(desc, "failed") {
		t.Errorf("endpoint Other's handovers chart says %q", desc)
	}
	if rows := part.Find(`[data-testid="chart-chart-handovers"] th[scope="row"]`).Length(); rows != 28 {
		t.Errorf("a week has %d intervals, want 28 of six hours", rows)
	}
	if hx, _ := part.Find(`[data-testid="dashboard-charts"]`).Attr("hx-get"); !strings.Contains(hx, "range=7d") || !strings.Contains(hx, "endpoint=") {
		t.Errorf("live updates would fetch %q, losing the filters", hx)
	}
	// An unknown range falls back to the last 24 hours.
	part2 := readBody(t, a.request(http.MethodGet, "/dashboard/charts?range=forever", nil, map[string]string{"HX-Request": "true"}))
	if !strings.Contains(part2, "Last 24 hours, every endpoint") {
		t.Error("an unknown range did not fall back to the last 24 hours")
	}
}
