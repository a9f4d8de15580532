package e2e

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/handover-relay/handover/internal/testkit"
)

// TestConsolePagesLeftCloseTheirLiveStreams walks the console's live pages
// in Chromium with its back/forward cache on, as an admin's browser has it:
// a page the tab left keeps no event stream open (over HTTP/1.1 a browser
// gives a host six connections, so streams of cached pages would leave the
// console waiting behind them), and a page the cache brings back listens
// again.
func TestConsolePagesLeftCloseTheirLiveStreams(t *testing.T) {
	tab := browser(t)
	srv, base := startBrowserApp(t)
	endpoints, err := srv.Store.ListEndpoints(t.Context())
	if err != nil || len(endpoints) == 0 {
		t.Fatalf("the seeded sandbox endpoint: %v", err)
	}
	token := endpoints[0].URLToken
	handOver := func(session string) {
		t.Helper()
		body := []byte(`{"userId":"streams-user","sessionId":"` + session + `"}`)
		resp, err := http.Post(base+"/"+token+"/handover", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("handover %s: %d", session, resp.StatusCode)
		}
	}
	// A handover made now shows on the conversations page only through
	// its live stream: that it shows says the stream is open.
	seenLive := func(session string) chromedp.Action[chromedp.Void] {
		return chromedp.WaitVisible(`//tr[@data-testid="conversation-row"]//*[@data-testid="session-id"][.="` + session + `"]`)
	}

	// Each document marks when a live stream of its opens (the SSE
	// extension's htmx:sseOpen event), and forgets it when the tab leaves,
	// so that a page brought back has to open a stream again.
	within(t, tab, 5*time.Second, "mark opened streams", func(ctx context.Context, _ *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `document.addEventListener("htmx:sseOpen", function () { document.documentElement.dataset.streamOpen = "yes"; }, true);
				window.addEventListener("pagehide", function () { delete document.documentElement.dataset.streamOpen; });`,
		})
		return chromedp.Void{}, err
	})
	streamOpen := chromedp.Poll[chromedp.Void](`document.documentElement.dataset.streamOpen === "yes"`)

	signIn(t, tab, base) // the dashboard, live
	within(t, tab, 30*time.Second, "visit the live pages",
		chromedp.Navigate(base+"/webhooks"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=webhooks-page]`)),
		chromedp.Navigate(base+"/api-calls"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=api-calls-page]`)),
		chromedp.Navigate(base+"/bot-deliveries"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=bot-deliveries-page]`)),
		chromedp.Navigate(base+"/conversations"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=conversations-page]`)),
		streamOpen,
	)
	// From here, every stream but the conversations page's is a page left
	// behind.
	handOver("streams-1")
	within(t, tab, 15*time.Second, "see a handover live", seenLive("streams-1"))
	testkit.WaitFor(t, 15*time.Second, "only the conversations page's stream open", func() bool { return sseWatchers(t, srv) == 1 })

	// Away and back: the page comes back from the cache, is loaded again and
	// listens again.
	within(t, tab, 15*time.Second, "leave the conversations page and come back",
		chromedp.Navigate(base+"/webhooks"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=webhooks-page]`)),
		chromedp.NavigateBack(),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=conversations-page]`)),
		streamOpen,
	)
	handOver("streams-2")
	within(t, tab, 15*time.Second, "see a handover live after coming back", seenLive("streams-2"))
	testkit.WaitFor(t, 15*time.Second, "only the conversations page's stream open", func() bool { return sseWatchers(t, srv) == 1 })
}
