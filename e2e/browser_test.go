package e2e

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/handover-relay/handover/app"
	"github.com/handover-relay/handover/config"
	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/genesys/sandbox"
	"github.com/handover-relay/handover/internal/testkit"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/store"
)

// The browser test drives the console in a real headless Chromium (Debian's
// chromium package, installed by .ci/run) against the real wiring with the
// sandbox mounted, as a user would.

// chromiumPath finds Chromium, or says loudly why the browser test cannot run.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium is not installed: .ci/run must install Debian's chromium package for the browser tests")
	}
	t.Skip("BROWSER TESTS SKIPPED: Chromium is not installed (apt-get install chromium)")
	return ""
}

// browser starts headless Chromium and returns a tab's context; extra
// adds options (flags) to the usual ones.
func browser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // root in CI containers
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		// Two tabs work side by side: keep the one in the background running.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.WindowSize(1280, 900),
	)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	if err := chromedp.Do(tab); err != nil { // starts the browser
		t.Fatalf("start Chromium: %v", err)
	}
	return tab
}

// screenshots go to HANDOVER_SCREENSHOTS (docs/screenshots to refresh the
// README's pictures) or to a temporary folder.
func screenshot(t *testing.T, name string) chromedp.Action[chromedp.Void] {
	dir := os.Getenv("HANDOVER_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "handover-screenshots")
	}
	return func(ctx context.Context, target *chromedp.Target) (chromedp.Void, error) {
		png, err := chromedp.FullScreenshot(100)(ctx, target)
		if err != nil {
			return chromedp.Void{}, err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return chromedp.Void{}, err
		}
		return chromedp.Void{}, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
}

// within runs steps with a deadline, so "appears live within a second" is checked.
func within(t *testing.T, tab context.Context, d time.Duration, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, d)
	defer cancel()
	for i, step := range steps {
		if err := chromedp.Do(ctx, step); err != nil {
			// Where the page was says which wait never ended.
			ask, done := context.WithTimeout(tab, 2*time.Second)
			where, _ := chromedp.Run(ask, chromedp.Location())
			done()
			t.Fatalf("%s (within %s): step %d of %d, at %s: %v", what, d, i+1, len(steps), where, err)
		}
	}
}

// acceptConfirmDialogs answers "OK" to the page's confirm() questions, as the
// admin would.
func acceptConfirmDialogs() chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, target *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Evaluate[bool]("window.confirm = () => true, true")(ctx, target)
		return chromedp.Void{}, err
	}
}

func textOf(t *testing.T, tab context.Context, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 5*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return strings.TrimSpace(text)
}

// startBrowserApp starts Handover with the sandbox mounted, as the default
// start runs it, and answers it with its base URL once it is ready.
func startBrowserApp(t *testing.T) (*app.App, string) {
	t.Helper()
	return startBrowserAppWithClock(t, nil)
}

// startBrowserAppWithClock starts the app with now as its clock (the real one
// when nil).
func startBrowserAppWithClock(t *testing.T, now func() time.Time) (*app.App, string) {
	t.Helper()
	addr := testkit.FreeAddr(t)
	env := map[string]string{"HANDOVER_ADDR": addr, "HANDOVER_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "h.db"),
		"HANDOVER_ADMIN_PASSWORD": "browser-password", "HANDOVER_POLL_INTERVAL": "500ms"}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	logs := &testkit.SyncBuffer{}
	ctx, stop := context.WithCancel(context.Background())
	srv, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)), &app.Tuning{Timings: func(rc *relay.Config, sc *sandbox.Config) {
		sc.HeartbeatInterval = 200 * time.Millisecond
	}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		stop()
		<-done
		if t.Failed() {
			t.Logf("Handover's log:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	testkit.WaitFor(t, 5*time.Second, "Handover ready", func() bool { return httpGet(t, base+"/healthz") != "" })
	return srv, base
}

// signIn signs the admin in on tab.
func signIn(t *testing.T, tab context.Context, base string) {
	t.Helper()
	within(t, tab, 10*time.Second, "sign in",
		chromedp.Navigate(base+"/login"),
		audit(t, "login"),
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "browser-password"),
		chromedp.Click(chromedp.CSS(`[data-testid=sign-in]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=dashboard-page]`)),
	)
}

func TestAnAdminWatchesAHandoverLiveInTheBrowser(t *testing.T) {
	tab := browser(t)
	srv, base := startBrowserApp(t)
	// The Genesys org the admin is about to configure.
	const webhookSecret, clientSecret = "browser-webhook-secret-0123", "browser-client-secret"
	srv.Sandbox.AddClient("browser-client", clientSecret)
	srv.Sandbox.AddIntegration("Browser Test Deployment", base+"/handover/genesysCloudOM", webhookSecret)

	signIn(t, tab, base)

	// Create an endpoint that hands over to the sandbox.
	within(t, tab, 10*time.Second, "create an endpoint",
		chromedp.Navigate(base+"/endpoints/new"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=endpoint-form]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "Browser bot"),
		chromedp.SendKeys(chromedp.CSS(`input[name=host]`), base+"/sandbox/genesys"),
		chromedp.SendKeys(chromedp.CSS(`input[name=deploymentName]`), "Browser Test Deployment"),
		chromedp.SendKeys(chromedp.CSS(`input[name=queueId]`), app.SandboxQueueID),
		chromedp.SendKeys(chromedp.CSS(`input[name=webhookSecret]`), webhookSecret),
		chromedp.SendKeys(chromedp.CSS(`input[name=clientId]`), "browser-client"),
		chromedp.SendKeys(chromedp.CSS(`input[name=clientSecret]`), clientSecret),
		chromedp.SendKeys(chromedp.CSS(`input[name=language]`), "english"),
		chromedp.SendKeys(chromedp.CSS(`input[name=skills]`), "billing"),
		chromedp.Click(chromedp.CSS(`[data-testid=demo-chat-toggle]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=save-endpoint]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=endpoints-table]`)),
		audit(t, "endpoints"),
	)
	var e store.Endpoint
	endpoints, _ := srv.Store.ListEndpoints(context.Background())
	for _, candidate := range endpoints {
		if candidate.Name == "Browser bot" {
			e = candidate
		}
	}
	if e.ID == 0 {
		t.Fatal("the endpoint was not saved")
	}
	within(t, tab, 10*time.Second, "open the endpoint",
		chromedp.Navigate(base+"/endpoints/"+itoa(e.ID)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=endpoint-page]`)),
		audit(t, "endpoint"),
	)

	// The demo chat in a second window (an end user's browser), the
	// conversations list in the admin's: each stays in the foreground, as
	// headless Chromium pauses a background tab's page.
	chatTab := browser(t)
	within(t, chatTab, 10*time.Second, "open the demo chat: it says whether an agent is available",
		chromedp.Navigate(base+"/chat/"+e.DemoToken),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=chat-page]`)),
		chromedp.WaitVisible(`//*[@data-testid="chat-availability"][@data-available="true"][contains(., "agents available")]`),
	)
	within(t, tab, 10*time.Second, "open the conversations",
		chromedp.Navigate(base+"/conversations"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=conversations-page]`)),
	)
	within(t, chatTab, 10*time.Second, "ask for an agent",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=chat-input]`), "I want to talk to an agent"),
		chromedp.Click(chromedp.CSS(`[data-testid=chat-send]`)),
	)
	within(t, tab, 2*time.Second, "the handover appears in the conversations list",
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=conversation-row]`)))
	within(t, chatTab, 5*time.Second, "the chat shows the wait while queued",
		chromedp.WaitVisible(`//*[@data-testid="chat-wait"][contains(., "in the queue")][contains(., "estimated wait")]`),
		audit(t, "demo-chat-waiting"))

	// The agent answers in Genesys.
	var conv store.Conversation
	testkit.WaitFor(t, 5*time.Second, "the conversation reaches Genesys", func() bool {
		list, _ := srv.Store.OpenConversationsWithGenesysID(context.Background(), 10)
		for _, c := range list {
			if c.EndpointID == e.ID {
				conv = c
				return true
			}
		}
		return false
	})
	if err := srv.Sandbox.Accept(conv.GenesysConversationID, "Ada Agent"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Sandbox.AgentSend(conv.GenesysConversationID, "Hello, this is Ada from support.", ""); err != nil {
		t.Fatal(err)
	}
	within(t, chatTab, time.Second, "the agent's message appears in the chat",
		chromedp.WaitVisible(`//*[@data-testid="chat-message-text"][contains(., "Hello, this is Ada")]`))
	within(t, tab, time.Second, "the agent's message appears in the conversations list",
		chromedp.WaitVisible(`//*[@data-testid="last-message"][contains(., "Hello, this is Ada")]`))
	within(t, chatTab, 5*time.Second, "screenshot the chat", audit(t, "demo-chat"))
	within(t, tab, 5*time.Second, "screenshot the conversations", audit(t, "conversations"))

	// The user answers; the conversation page shows it live.
	within(t, tab, 10*time.Second, "open the conversation",
		chromedp.Navigate(base+"/conversations/"+itoa(conv.ID)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=timeline]`)))
	within(t, chatTab, 5*time.Second, "the user answers",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=chat-input]`), "Thanks Ada, my invoice is wrong"),
		chromedp.Click(chromedp.CSS(`[data-testid=chat-send]`)))
	within(t, tab, time.Second, "the user's message appears on the conversation page",
		chromedp.WaitVisible(`//*[@data-testid="entry-text"][contains(., "my invoice is wrong")]`))
	within(t, tab, 5*time.Second, "screenshot the conversation", audit(t, "conversation"))

	// The sandbox's flow greeted the user as the system, not an agent; a bot
	// flow's card shows as a card whose button answers Genesys.
	within(t, chatTab, time.Second, "the flow greeting is a system line",
		chromedp.WaitVisible(`//*[@data-testid="chat-message"][@data-from="system"][contains(., "Connecting you with an agent")]`))
	card := []genesys.Content{{ContentType: genesys.ContentTypeCard, Card: &genesys.Card{Title: "Refund options", Description: "How would you like your money back?",
		Actions: []genesys.CardAction{{Type: genesys.CardActionPostback, Text: "To my card", Payload: "REFUND_CARD"}}}}}
	cardID, err := srv.Sandbox.FlowStructured(conv.GenesysConversationID, "", card)
	if err != nil {
		t.Fatal(err)
	}
	within(t, chatTab, 5*time.Second, "the card appears in the chat and its button answers",
		chromedp.WaitVisible(`//*[@data-testid="chat-card"][contains(., "Refund options")]`),
		chromedp.Click(`//*[@data-testid="chat-card-button"][contains(., "To my card")]`))
	testkit.WaitFor(t, 5*time.Second, "the card's answer at Genesys", func() bool {
		for _, rec := range srv.Sandbox.Inbound() {
			if r, ok := rec.Parsed.(genesys.InboundStructuredResponse); ok {
				return r.ButtonResponse.Type == genesys.ButtonTypeButton && r.ButtonResponse.Payload == "REFUND_CARD" && r.OriginatingMessageID == cardID
			}
		}
		return false
	})

	// Replay a webhook from the log: it is processed once only.
	// Replay the agent's message from the webhook log: it was applied already,
	// so the replay is logged as a duplicate and changes nothing.
	var agentHook store.Webhook
	srv.Store.ForEachWebhook(context.Background(), func(w store.Webhook) {
		if w.EventType == "Text" && w.Outcome == store.OutcomeDelivered {
			agentHook = w
		}
	})
	if agentHook.ID == 0 {
		t.Fatal("the agent's message is not in the webhook log")
	}
	within(t, tab, 10*time.Second, "replay a webhook",
		chromedp.Navigate(base+"/webhooks"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=webhook-row]`)),
		audit(t, "webhooks"),
		chromedp.Navigate(base+"/webhooks/"+itoa(agentHook.ID)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=webhook-page]`)),
		acceptConfirmDialogs(),
		chromedp.Click(chromedp.CSS(`[data-testid=replay-webhook]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=replay-outcome]`)),
		audit(t, "webhook"),
	)
	if outcome := textOf(t, tab, `[data-testid=replay-outcome]`); !strings.Contains(outcome, "duplicate") {
		t.Fatalf("replay of an applied webhook: outcome %q, want a duplicate", outcome)
	}
	msgs, _ := srv.Store.ConversationMessages(context.Background(), conv.ID)
	copies := 0
	for _, m := range msgs {
		if strings.Contains(m.Text, "Hello, this is Ada") {
			copies++
		}
	}
	if copies != 1 {
		t.Fatalf("after the replay the agent's message is stored %d times", copies)
	}

	// The Copilot workspace opens for its own token; a wrong one, and the
	// bot's URL token, get 403.
	copilot := base + "/copilot?userId=" + conv.UserID + "&sessionId=" + conv.SessionID + "&URLToken="
	within(t, tab, 10*time.Second, "open the Copilot workspace",
		chromedp.Navigate(copilot+e.CopilotToken),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=copilot-page]`)),
		audit(t, "copilot"))
	ctx403, cancel := context.WithTimeout(tab, 10*time.Second)
	defer cancel()
	resp, err := chromedp.Run(ctx403, chromedp.NavigateResponse(copilot+e.URLToken))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 403 {
		t.Fatalf("Copilot with a wrong token: %d, want 403", resp.Status)
	}
	if body := textOf(t, tab, "body"); strings.Contains(body, e.Name) || strings.Contains(body, "Ada") {
		t.Fatalf("the 403 page shows data: %q", body)
	}

	// The other main pages: accessible, and pictured for the README.
	for name, path := range map[string]string{"dashboard": "/", "dashboard-week": "/?range=7d", "api-calls": "/api-calls", "settings": "/settings", "apikeys": "/apikeys", "account": "/account", "endpoint-new": "/endpoints/new", "agent-desk": "/sandbox/genesys/desk", "instances": "/instances"} {
		within(t, tab, 10*time.Second, "screenshot "+name, chromedp.Navigate(base+path), chromedp.WaitReady(chromedp.CSS("body")), audit(t, name))
	}
	// The instances page lists this process, alive, owning the sandbox's OAuth client.
	within(t, tab, 10*time.Second, "open the instances page", chromedp.Navigate(base+"/instances"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="instance-row"]`)))
	if state, owns := textOf(t, tab, `[data-testid="instance-state"]`), textOf(t, tab, `[data-testid="instance-owns"]`); state != "alive" || !strings.Contains(owns, "Sandbox") {
		t.Fatalf("instances page: state %q, owns %q; want alive, owning the Sandbox endpoint's client", state, owns)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
