package handlers

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/views"
)

// APICallStore is what the Genesys call log needs from the store.
type APICallStore interface {
	ListEndpoints(ctx context.Context) ([]store.Endpoint, error)
	ListAPICalls(ctx context.Context, f store.APICallFilter) (store.Page[store.APICall], error)
}

// APICalls serves the log of the calls Handover made to Genesys.
type APICalls struct {
	Store APICallStore
	Now   func() time.Time // pinned in tests
}

// List answers GET /api-calls?endpoint=&status=ok|failed&since=&from=&to=&before=.
func (h *APICalls) List(c *fiber.Ctx) error {
	ctx := c.UserContext()
	f := readListFilters(c, consoleNow(h.Now))
	status := ""
	if s := c.Query("status"); s == store.APICallsOK || s == store.APICallsFailed {
		status = s
	}
	endpoints, err := h.Store.ListEndpoints(ctx)
	if err != nil {
		return err
	}
	names := newEndpointNames(endpoints)
	result, err := h.Store.ListAPICalls(ctx, store.APICallFilter{EndpointID: f.endpointID, Status: status, Created: f.period, Before: f.before})
	if err != nil {
		return err
	}
	rows := make([]views.APICallRow, len(result.Rows))
	for i, call := range result.Rows {
		rows[i] = views.APICallRow{
			ID: call.ID, At: call.CreatedAt, Endpoint: names.name(call.EndpointID), Method: call.Method, Path: call.Path, Status: call.Status,
			Latency: time.Duration(call.LatencyMS) * time.Millisecond, Attempt: call.Attempt, Error: call.Error,
			OK: call.Error == "" && call.Status >= 200 && call.Status < 400, ConversationID: derefID(call.ConversationID),
		}
	}
	q := f.query()
	if status != "" {
		q.Set("status", status)
	}
	props := views.APICallsProps{
		Filters:   views.APICallFilters{Endpoint: f.endpoint, Status: status, Since: f.since, From: f.from, To: f.to},
		Endpoints: names.options, Periods: periods(f.since), Rows: rows,
	}
	props.ListURL, props.Pager = pageLinks("/api-calls", q, f.before, result.Next)
	if wantsPart(c, views.APICallListID) {
		return render(c, fiber.StatusOK, views.APICallList(props))
	}
	return page(c, fiber.StatusOK, "Genesys calls", "apicalls", views.APICallsPage(props))
}
