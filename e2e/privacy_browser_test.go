package e2e

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/handover-relay/handover/store"
)

// TestAnAdminSetsDataProtectionAndErasesAPersonInTheBrowser drives
// docs/privacy.md's console parts in headless Chromium: the endpoint form's
// Data protection section saves what the admin sets, and a conversation
// page's "Erase this person's data" asks first, erases, and says so.
func TestAnAdminSetsDataProtectionAndErasesAPersonInTheBrowser(t *testing.T) {
	tab := browser(t)
	srv, base := startBrowserApp(t)
	ctx := context.Background()
	endpoints, err := srv.Store.ListEndpoints(ctx)
	if err != nil || len(endpoints) == 0 {
		t.Fatalf("the seeded sandbox endpoint: %v", err)
	}
	e := endpoints[0]
	signIn(t, tab, base)

	within(t, tab, 15*time.Second, "set data protection",
		chromedp.Navigate(base+"/endpoints/"+itoa(e.ID)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=endpoint-form]`)),
		chromedp.Click(chromedp.CSS(`input[name=maskSensitiveLogging]`)),
		chromedp.Click(chromedp.CSS(`input[name=collectConversations]`)),
		chromedp.SetValue(chromedp.CSS(`input[name=conversationRetentionDays]`), "7"),
		chromedp.ScrollIntoView(chromedp.CSS(`input[name=conversationRetentionDays]`)),
		audit(t, "data-protection"),
		chromedp.Click(chromedp.CSS(`[data-testid=save-endpoint]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=endpoints-table]`)),
	)
	saved, err := srv.Store.EndpointByID(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := store.PrivacySettings{MaskSensitiveLogging: true, DiscardConversationText: true, ConversationRetentionDays: 7}
	if saved.Privacy != want {
		t.Fatalf("saved %+v, want %+v", saved.Privacy, want)
	}
	checked := func(name string) bool {
		on, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.querySelector("input[name=`+name+`]").checked`))
		if err != nil {
			t.Fatal(err)
		}
		return on
	}
	within(t, tab, 10*time.Second, "reload the endpoint",
		chromedp.Navigate(base+"/endpoints/"+itoa(e.ID)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=endpoint-form]`)),
	)
	if !checked("maskSensitiveLogging") || checked("collectConversations") || !checked("inputSanitization") || checked("maskIpAddress") {
		t.Fatal("the form does not show the saved data protection")
	}

	body := []byte(`{"userId":"browser-person","sessionId":"browser-s1"}`)
	resp, err := http.Post(base+"/"+e.URLToken+"/handover", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	conv, err := srv.Store.LatestConversation(ctx, e.ID, "browser-s1")
	if err != nil {
		t.Fatalf("handover: %d, %v", resp.StatusCode, err)
	}
	within(t, tab, 30*time.Second, "erase the person",
		chromedp.Navigate(base+"/conversations/"+itoa(conv.ID)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=erase-contact]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=erase-contact] summary`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=erase-contact-button]`)),
		audit(t, "erase-contact"),
		acceptConfirmDialogs(),
		chromedp.Click(chromedp.CSS(`[data-testid=erase-contact-button]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=conversations-page] [data-testid=notice]`)),
	)
	if notice := textOf(t, tab, `[data-testid=notice]`); notice == "" {
		t.Fatal("no notice after the erasure")
	}
	if left, _ := srv.Store.ConversationsOfUser(ctx, "browser-person", 0); len(left) != 0 {
		t.Fatalf("the person's conversations after the erasure: %+v", left)
	}
	records, _ := srv.Store.Erasures(ctx, 1)
	if len(records) != 1 || records[0].ErasedBy != "admin admin" {
		t.Fatalf("audit record: %+v", records)
	}
}
