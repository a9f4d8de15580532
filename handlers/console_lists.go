package handlers

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/views"
)

// The live console's lists (conversations, webhooks, Genesys calls) share
// their filters: endpoint, a period (since=24h) or dates (from/to), and the
// keyset cursor before=<id>.

// listFilters are the filters every console list reads from its query.
type listFilters struct {
	endpointID int64
	endpoint   string // as typed, for the form
	since      string
	from, to   string
	period     store.TimeRange
	before     int64
}

// dateLayout is what <input type="date"> sends.
const dateLayout = "2006-01-02"

// readListFilters reads the shared filters; values that do not parse are
// left out (and out of the form), never an error: a stale bookmark still shows a list.
func readListFilters(c *fiber.Ctx, now time.Time) listFilters {
	f := listFilters{}
	if id, err := strconv.ParseInt(c.Query("endpoint"), 10, 64); err == nil && id > 0 {
		f.endpointID, f.endpoint = id, c.Query("endpoint")
	}
	if d, ok := parseSince(c.Query("since")); ok {
		f.since = c.Query("since")
		f.period.From = now.Add(-d)
	}
	if t, err := time.Parse(dateLayout, c.Query("from")); err == nil {
		f.from = c.Query("from")
		if t.After(f.period.From) {
			f.period.From = t
		}
	}
	if t, err := time.Parse(dateLayout, c.Query("to")); err == nil {
		f.to = c.Query("to")
		f.period.To = t.AddDate(0, 0, 1) // the whole day
	}
	if before, err := strconv.ParseInt(c.Query("before"), 10, 64); err == nil && before > 0 {
		f.before = before
	}
	return f
}

var daysPattern = regexp.MustCompile(`^([0-9]{1,4})d$`)

// parseSince reads a period such as 90m, 24h or 7d.
func parseSince(s string) (time.Duration, bool) {
	if m := daysPattern.FindStringSubmatch(s); m != nil {
		days, _ := strconv.Atoi(m[1])
		return time.Duration(days) * 24 * time.Hour, days > 0
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d > 0
}

// query is the shared filters as URL parameters (without the cursor).
func (f listFilters) query() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("endpoint", f.endpoint)
	set("since", f.since)
	set("from", f.from)
	set("to", f.to)
	return q
}

// periods are the choices of the Period select; a since from a link that is
// not one of them is added so that the form keeps it.
func periods(selected string) []views.Option {
	out := []views.Option{{Value: "1h", Label: "Last hour"}, {Value: "24h", Label: "Last 24 hours"}, {Value: "7d", Label: "Last 7 days"}, {Value: "30d", Label: "Last 30 days"}}
	if selected == "" {
		return out
	}
	for _, o := range out {
		if o.Value == selected {
			return out
		}
	}
	return append(out, views.Option{Value: selected, Label: "Last " + selected})
}

// withQuery joins a path and parameters.
func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// pageLinks builds the list's own URL (for the live refresh) and its pager:
// the newest page, and the next page below cursor next.
func pageLinks(path string, q url.Values, before, next int64) (string, views.Pager) {
	var pager views.Pager
	self := cloneValues(q)
	if before > 0 {
		self.Set("before", strconv.FormatInt(before, 10))
		pager.NewestURL = withQuery(path, q)
	}
	if next > 0 {
		older := cloneValues(q)
		older.Set("before", strconv.FormatInt(next, 10))
		pager.OlderURL = withQuery(path, older)
	}
	return withQuery(path, self), pager
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// wantsPart tells whether htmx asks for one part of a page by its id: the
// live refresh of a list targets the list, and gets only the list.
func wantsPart(c *fiber.Ctx, id string) bool {
	c.Vary("HX-Target")
	return isFragmentRequest(c) && c.Get("HX-Target") == id
}

// endpointNames maps endpoint ids to names, and gives the filter's options.
type endpointNames struct {
	names     map[int64]string
	endpoints map[int64]store.Endpoint
	options   []views.Option
}

func newEndpointNames(endpoints []store.Endpoint) endpointNames {
	n := endpointNames{names: map[int64]string{}, endpoints: map[int64]store.Endpoint{}}
	for _, e := range endpoints {
		n.names[e.ID], n.endpoints[e.ID] = e.Name, e
		n.options = append(n.options, views.Option{Value: strconv.FormatInt(e.ID, 10), Label: e.Name})
	}
	return n
}

// name is the endpoint's name, or its id when it was deleted.
func (n endpointNames) name(id int64) string {
	if name, ok := n.names[id]; ok {
		return name
	}
	if id == 0 {
		return ""
	}
	return "#" + strconv.FormatInt(id, 10) + " (deleted)"
}

func (n endpointNames) namePtr(id *int64) string {
	if id == nil {
		return ""
	}
	return n.name(*id)
}

// copilotURL opens the endpoint's Copilot workspace on a conversation's
// session, for a signed-in admin: with the Copilot token, and when the
// endpoint wants an auth JWT, one the console signs for ten minutes.
func (n endpointNames) copilotURL(endpointID int64, userID, sessionID string) string {
	e, ok := n.endpoints[endpointID]
	if !ok {
		return ""
	}
	link := "/copilot?userId=" + url.QueryEscape(userID) + "&sessionId=" + url.QueryEscape(sessionID) + "&URLToken=" + url.QueryEscape(e.CopilotToken)
	if e.CopilotJWTSecret != "" {
		claims := copilotJWTClaims{UserID: userID, SessionID: sessionID, RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(time.Now().Add(10 * time.Minute))}}
		if auth, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(e.CopilotJWTSecret)); err == nil {
			link += "&auth=" + url.QueryEscape(auth)
		}
	}
	return link
}

// consoleNow is the clock of the console lists (pinned in tests).
func consoleNow(now func() time.Time) time.Time {
	if now != nil {
		return now().UTC()
	}
	return time.Now().UTC()
}

func derefID(id *int64) int64 {
	if id == nil {
		return 0
	}
	return *id
}

func oneOf(value string, options []views.Option) string {
	for _, o := range options {
		if strings.EqualFold(o.Value, value) {
			return o.Value
		}
	}
	return ""
}
