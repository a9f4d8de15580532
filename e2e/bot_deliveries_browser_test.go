package e2e

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/handover-relay/handover/app"
	"github.com/handover-relay/handover/internal/testkit"
	"github.com/handover-relay/handover/store"
)

// sseWatchers is how many live event streams the instance has open, from
// its handover_sse_watchers gauge.
func sseWatchers(t *testing.T, srv *app.App) int {
	t.Helper()
	families, err := srv.Metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "handover_sse_watchers" && len(f.GetMetric()) == 1 {
			return int(f.GetMetric()[0].GetGauge().GetValue())
		}
	}
	t.Fatal("the metrics have no handover_sse_watchers gauge")
	return 0
}

// An admin sets the Sandbox endpoint's Bot Webhook URL in the console, sees
// the signing secret once, sends a test event, watches the bot delivery log
// live, filters it, and replays a delivery: the bot (a real receiver on
// loopback) gets the replay with the same webhook-id.
func TestBotDeliveriesConsoleSetsTheWebhookSendsATestEventAndReplaysIt(t *testing.T) {
	tab := browser(t)
	srv, base := startBrowserApp(t)
	bot := newBotHookReceiver(t)
	ctx := context.Background()
	var e store.Endpoint
	endpoints, err := srv.Store.ListEndpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, candidate := range endpoints {
		if candidate.Name == "Sandbox" {
			e = candidate
		}
	}
	if e.ID == 0 || e.BotWebhookURL != "" {
		t.Fatalf("the Sandbox endpoint: %+v", e)
	}
	endpointURL := base + "/endpoints/" + itoa(e.ID)

	signIn(t, tab, base)
	within(t, tab, 15*time.Second, "set the Bot Webhook URL on the endpoint's page",
		chromedp.Navigate(endpointURL),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=endpoint-page]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=bot-webhook-off]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=bot-webhook-url]`), bot.url()),
		chromedp.Click(chromedp.CSS(`[data-testid=save-endpoint]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=bot-webhook-secret-value]`)),
		audit(t, "bot-webhook-secret"),
	)
	whsec := textOf(t, tab, `[data-testid=bot-webhook-secret-value]`)
	saved, err := srv.Store.EndpointByID(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	key, decodeErr := base64.StdEncoding.DecodeString(strings.TrimPrefix(whsec, "whsec_"))
	if !whsecPattern.MatchString(whsec) || decodeErr != nil || len(key) < 24 || saved.BotWebhookSecret != whsec || saved.BotWebhookURL != bot.url() {
		t.Fatalf("the page showed the secret %q (%d bytes, %v); the endpoint has URL %q", whsec, len(key), decodeErr, saved.BotWebhookURL)
	}

	// Back on the endpoint's page the secret is not shown again; the test
	// event reaches the bot.
	within(t, tab, 15*time.Second, "go back to the endpoint and send a test event",
		chromedp.Click(chromedp.CSS(`[data-testid=back-to-endpoint]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=endpoint-page]`)),
		chromedp.WaitVisible(`//*[@data-testid="bot-webhook-target"][contains(., "`+bot.url()+`")]`),
		chromedp.Click(chromedp.CSS(`[data-testid=send-bot-test-event]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=bot-test-result]`)),
		audit(t, "endpoint-bot-webhook"),
	)
	html, err := chromedp.Run(tab, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, strings.TrimPrefix(whsec, "whsec_")) {
		t.Fatal("the endpoint's page shows the signing secret again")
	}
	if result := textOf(t, tab, `[data-testid=bot-test-result]`); !strings.Contains(result, "delivered") || !strings.Contains(result, "answered 200") {
		t.Fatalf("test event result %q, want delivered with the bot's 200", result)
	}
	first := bot.requests()
	if len(first) != 1 || first[0].event.Type != "test" || first[0].event.EndpointID != e.ID {
		t.Fatalf("after one test event the bot got %d requests: %+v", len(first), first)
	}
	testEventID := first[0].event.ID
	page, err := srv.Store.ListBotDeliveries(ctx, store.BotDeliveryFilter{EndpointID: e.ID})
	if err != nil || len(page.Rows) != 1 || page.Rows[0].EventID != testEventID {
		t.Fatalf("the log after the test event: %+v, %v", page.Rows, err)
	}
	delivered := page.Rows[0]

	// The log, from the navigation; a delivery made meanwhile (the bot
	// failing it) appears live. The page's change stream must be listening
	// before the change is made: the endpoint's page watches nothing, so
	// one watcher (the metrics' gauge) is the log's page.
	testkit.WaitFor(t, 15*time.Second, "no live stream open on the endpoint's page", func() bool { return sseWatchers(t, srv) == 0 })
	within(t, tab, 15*time.Second, "open the bot deliveries",
		chromedp.Click(chromedp.CSS(`nav a[href="/bot-deliveries"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=bot-deliveries-page]`)),
		chromedp.WaitVisible(`//tr[@data-testid="bot-delivery-row"][@data-id="`+itoa(delivered.ID)+`"]//*[@data-testid="status"][contains(., "delivered")]`),
	)
	testkit.WaitFor(t, 15*time.Second, "the bot deliveries page listening for changes", func() bool { return sseWatchers(t, srv) == 1 })
	bot.setFail(http.StatusBadRequest)
	failed, err := srv.Relay.SendBotTestEvent(ctx, saved)
	bot.setFail(0)
	if err != nil || failed.Status != store.BotDeliveryFailed {
		t.Fatalf("a test event the bot refuses: %+v, %v", failed, err)
	}
	within(t, tab, 15*time.Second, "the failed delivery appears live",
		chromedp.WaitVisible(`//tr[@data-testid="bot-delivery-row"][@data-id="`+itoa(failed.ID)+`"]//*[@data-testid="status"][contains(., "failed")]`),
		audit(t, "bot-deliveries"),
	)
	if answer := textOf(t, tab, `tr[data-id="`+itoa(failed.ID)+`"] [data-testid=response-status]`); !strings.Contains(answer, "400") {
		t.Fatalf("the failed delivery's answer %q, want 400", answer)
	}

	// Filtered by status: each filter shows its row only.
	for _, f := range []struct {
		status     string
		shown, not int64
	}{{store.BotDeliveryDelivered, delivered.ID, failed.ID}, {store.BotDeliveryFailed, failed.ID, delivered.ID}} {
		within(t, tab, 15*time.Second, "filter by status "+f.status, append(showOnlyStatus(f.status),
			chromedp.WaitVisible(`//tr[@data-testid="bot-delivery-row"][@data-id="`+itoa(f.shown)+`"]`),
			chromedp.WaitNotPresent(chromedp.CSS(`tr[data-testid=bot-delivery-row][data-id="`+itoa(f.not)+`"]`)),
		)...)
		location, err := chromedp.Run(tab, chromedp.Location())
		if err != nil || !strings.Contains(location, "status="+f.status) {
			t.Fatalf("filtered by %s at %q (%v)", f.status, location, err)
		}
		rows, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="bot-delivery-row"]').length`))
		if err != nil || rows != 1 {
			t.Fatalf("filtered by %s: %d rows (%v), want 1", f.status, rows, err)
		}
	}

	// The delivered test event's page; Replay sends it again.
	within(t, tab, 15*time.Second, "open the delivery and replay it", append(showOnlyStatus(store.BotDeliveryDelivered),
		chromedp.WaitNotPresent(chromedp.CSS(`tr[data-testid=bot-delivery-row][data-id="`+itoa(failed.ID)+`"]`)),
		chromedp.Click(chromedp.CSS(`tr[data-id="`+itoa(delivered.ID)+`"] [data-testid=bot-delivery-link]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=bot-delivery-page]`)),
		chromedp.WaitVisible(`//*[@data-testid="event-id"][contains(., "`+testEventID+`")]`),
		chromedp.WaitVisible(`//*[@data-testid="bot-delivery-body"][contains(., "`+testEventID+`")]`),
		audit(t, "bot-delivery"),
		acceptConfirmDialogs(),
		chromedp.Click(chromedp.CSS(`[data-testid=replay-bot-delivery]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=notice]`)),
		audit(t, "bot-delivery-replayed"),
	)...)
	if notice := textOf(t, tab, `[data-testid=notice]`); !strings.Contains(notice, "Replayed") || !strings.Contains(notice, "answered 200") {
		t.Fatalf("replay notice %q", notice)
	}
	copies := bot.withID(testEventID)
	if len(copies) != 2 || string(copies[0].body) != string(copies[1].body) {
		t.Fatalf("after the replay the bot got the test event %d times", len(copies))
	}
	if got := len(bot.requests()); got != 3 {
		t.Fatalf("the bot got %d requests: the test event, its replay and the refused one", got)
	}
	replayed, err := srv.Store.BotDeliveryByID(ctx, delivered.ID)
	if err != nil || replayed.Attempts != 2 || replayed.Status != store.BotDeliveryDelivered {
		t.Fatalf("the replayed delivery: %+v, %v", replayed, err)
	}
	bot.verifyAll(whsec)
}

// showOnlyStatus filters the bot delivery log by a status with its form, and
// waits for the page that answers: it marks the status chosen. The rows
// looked for next may be on the page the form was sent from too, and a step
// that ran on the page being left would act on nodes that are gone.
func showOnlyStatus(status string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.SetValue(chromedp.CSS(`[data-testid=bot-delivery-filters] select[name=status]`), status),
		chromedp.Click(chromedp.CSS(`[data-testid=apply-filters]`)),
		chromedp.WaitReady(chromedp.CSS(`[data-testid=bot-delivery-filters] select[name=status] option[value="` + status + `"][selected]`)),
	}
}
