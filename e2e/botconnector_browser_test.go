package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/handover-relay/handover/store"
)

// The sandbox's bot flow in the browser: the admin makes a Genesys Bot
// Connector endpoint in the form, plays the customer in the desk's bot flow
// (turns posted to the endpoint's Handle Utterance URL), and the handover
// lands in the desk's queue; every page is axe-checked.
func TestTheSandboxBotFlowRunsInTheBrowser(t *testing.T) {
	tab := browser(t)
	srv, base := startBrowserApp(t)
	signIn(t, tab, base)

	const credential = "browser-bot-connector-credential"
	within(t, tab, 10*time.Second, "create a Bot Connector endpoint",
		chromedp.Navigate(base+"/endpoints/new"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=endpoint-form]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "Browser Bot Connector"),
		// The bot answers inside Genesys's flow: no Open Messaging handover.
		chromedp.SetValue(chromedp.CSS(`select[name=provider]`), ""),
		chromedp.SetValue(chromedp.CSS(`select[name=type]`), "genesysBotConnector"),
		chromedp.SendKeys(chromedp.CSS(`input[name=botConnectorHeaderName]`), "X-Handover-Key"),
		chromedp.SendKeys(chromedp.CSS(`input[name=botConnectorHeaderValue]`), credential),
		chromedp.Click(chromedp.CSS(`[data-testid=save-endpoint]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=endpoints-table]`)),
	)
	var e store.Endpoint
	endpoints, _ := srv.Store.ListEndpoints(context.Background())
	for _, candidate := range endpoints {
		if candidate.Name == "Browser Bot Connector" {
			e = candidate
		}
	}
	if e.ID == 0 || e.Type != store.TypeGenesysBotConnector {
		t.Fatalf("the Bot Connector endpoint was not saved: %+v", e)
	}
	within(t, tab, 10*time.Second, "the endpoint page shows the Handle Utterance URL and the setup steps",
		chromedp.Navigate(base+"/endpoints/"+itoa(e.ID)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=bot-connector-handle-url]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=register-bot]`)),
		chromedp.WaitVisible(`//*[@data-testid="bot-connector-setup-assistant"][contains(., "Call Bot Connector")][contains(., "X-Handover-Key")]`),
		audit(t, "endpoint-bot-connector"),
	)
	handleURL := textOf(t, tab, `[data-testid=bot-connector-handle-url]`)

	// Genesys's side: the admin installs the integration on the desk with
	// the URL and the credential the endpoint page shows.
	within(t, tab, 10*time.Second, "install the Bot Connector integration on the desk",
		chromedp.Navigate(base+"/sandbox/genesys/desk"),
		chromedp.Click(chromedp.CSS(`[data-testid=desk-bot-connector-install] summary`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=desk-bot-connector-install-form] input[name=uri]`), handleURL),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=desk-bot-connector-install-form] input[name=header]`), "X-Handover-Key"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=desk-bot-connector-install-form] input[name=value]`), credential),
		chromedp.Click(chromedp.CSS(`[data-testid=desk-bot-connector-install-form] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=desk-bot-flow]`)),
	)
	integrations := srv.Sandbox.BotConnectorIntegrations()
	if len(integrations) != 1 || integrations[0].HandleUtteranceURI != handleURL {
		t.Fatalf("installed %+v", integrations)
	}
	flow := `//*[@data-testid="desk-bot-flow"][@data-integration-id="` + integrations[0].ID + `"]`
	within(t, tab, 10*time.Second, "the customer greets the bot in the desk's bot flow",
		chromedp.WaitVisible(flow),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=desk-bot-flow-text]`), "hello"),
		chromedp.Click(chromedp.CSS(`[data-testid=desk-bot-flow-send]`)),
		chromedp.WaitVisible(`//*[@data-testid="desk-bot-flow-turn"][@data-bot-state="MoreData"]`),
	)
	within(t, tab, 10*time.Second, "the customer asks for an agent: Complete with the intent handover, and the queue has it",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=desk-bot-flow-text]`), "agent please"),
		chromedp.Click(chromedp.CSS(`[data-testid=desk-bot-flow-send]`)),
		chromedp.WaitVisible(`//*[@data-testid="desk-bot-flow-turn"][@data-bot-state="Complete"][@data-intent="handover"]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=desk-bot-flow-transferred]`)),
		chromedp.WaitVisible(`//*[@data-testid="desk-conversation"][@data-state="waiting"]`),
		audit(t, "desk-bot-flow"),
	)
	// The console shows the Bot Connector session with its final botState.
	within(t, tab, 10*time.Second, "the conversation is in the console",
		chromedp.Navigate(base+"/conversations"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=conversation-row]`)),
		audit(t, "conversations-bot-connector"),
	)
	within(t, tab, 10*time.Second, "its timeline shows the turns and the final botState",
		chromedp.Click(chromedp.CSS(`[data-testid=conversation-row] a`)),
		chromedp.WaitVisible(`//*[@data-testid="timeline"][contains(., "agent please")][contains(., "botState Complete")]`),
		audit(t, "conversation-bot-connector"),
	)
}
