package relay_test

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/handover-relay/handover/config"
	"github.com/handover-relay/handover/relay"
	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

// TestErasingAPersonEndsTheirHandoverInGenesysAndLeavesNoByteOfTheirTextInTheFiles
// is docs/privacy.md's erasure on SQLite: the open handover is ended in the
// sandbox (the customer disconnected) before anything is deleted, every row
// of the person goes, another person's stay, the audit record has a hash
// of the user id and the counts, and neither the database file nor its WAL
// holds a byte of what the person wrote.
func TestErasingAPersonEndsTheirHandoverInGenesysAndLeavesNoByteOfTheirTextInTheFiles(t *testing.T) {
	g := newEngine(t, nil)
	ctx := context.Background()
	const secretText, otherText = "erin-unique-7f3a9c card 4111 1111 1111 1111", "frank-stays-2b8d"
	if _, err := g.relay.StartHandover(ctx, g.e, relay.HandoverRequest{UserID: "erin", SessionID: "s-erin",
		Transcript: []relay.TranscriptEntry{{Source: "user", Text: secretText + " (transcript)"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.relay.SendUserMessage(ctx, g.e, relay.UserMessage{UserID: "erin", SessionID: "s-erin", Text: secretText}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.relay.StartHandover(ctx, g.e, relay.HandoverRequest{UserID: "frank", SessionID: "s-frank",
		Transcript: []relay.TranscriptEntry{{Source: "user", Text: otherText}}}); err != nil {
		t.Fatal(err)
	}
	g.waitForMessages(3)
	erin, err := g.store.ConversationsOfUser(ctx, "erin", 0)
	if err != nil || len(erin) != 1 || erin[0].GenesysConversationID == "" {
		t.Fatalf("erin's conversation before the erasure: %+v, %v", erin, err)
	}

	deleted, err := g.relay.EraseContact(ctx, relay.Erasure{UserID: "erin", By: "admin root"})
	if err != nil {
		t.Fatal(err)
	}
	if deleted.Conversations != 1 || deleted.Messages < 3 || deleted.Outbox < 3 || deleted.APICalls == 0 {
		t.Fatalf("deleted %+v; want erin's conversation, its timeline (transcript, text, end), its outbox with the disconnect, its calls", deleted)
	}
	gc, _ := g.genesys.Conversation(erin[0].GenesysConversationID)
	disconnected := false
	for _, p := range gc.Participants {
		disconnected = disconnected || (p.Purpose == "customer" && p.State == "disconnected")
	}
	if !disconnected {
		t.Fatalf("the customer of the erased handover is not disconnected in Genesys: %+v", gc.Participants)
	}
	if left, _ := g.store.ConversationsOfUser(ctx, "erin", 0); len(left) != 0 {
		t.Fatalf("erin's conversations after the erasure: %+v", left)
	}
	if frank, _ := g.store.ConversationsOfUser(ctx, "frank", 0); len(frank) != 1 || !frank[0].Open() {
		t.Fatalf("frank's conversation after erin's erasure: %+v", frank)
	}
	audit, err := g.store.Erasures(ctx, 10)
	if err != nil || len(audit) != 1 || audit[0].UserIDHash != secret.HashToken("erin") || audit[0].Counts != deleted || audit[0].ErasedBy != "admin root" {
		t.Fatalf("audit: %+v, %v", audit, err)
	}

	path, _ := config.SQLitePath(g.dbURL)
	for _, file := range []string{path, path + "-wal"} {
		raw, err := os.ReadFile(file)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte("erin-unique-7f3a9c")) {
			t.Errorf("%s still holds erin's text", file)
		}
	}
	// The check can fail: frank's text, never erased, is in the files.
	raw, _ := os.ReadFile(path)
	wal, _ := os.ReadFile(path + "-wal")
	if !bytes.Contains(append(raw, wal...), []byte(otherText)) {
		t.Fatal("frank's text is in neither file: the byte check above proves nothing")
	}
}

func TestErasingNobodyDeletesNothingAndIsStillAudited(t *testing.T) {
	g := newEngine(t, nil)
	deleted, err := g.relay.EraseContact(context.Background(), relay.Erasure{UserID: "nobody", EndpointID: g.e.ID, By: "API key"})
	if err != nil || deleted != (store.Deleted{}) {
		t.Fatalf("erase nobody: %+v, %v", deleted, err)
	}
	audit, _ := g.store.Erasures(context.Background(), 10)
	if len(audit) != 1 || audit[0].EndpointID == nil || *audit[0].EndpointID != g.e.ID {
		t.Fatalf("audit: %+v", audit)
	}
	if _, err := g.relay.EraseContact(context.Background(), relay.Erasure{UserID: " "}); err == nil {
		t.Fatal("an empty user id was accepted")
	}
}

// TestRetentionDeletesOldEndedConversationsAndNothingNewer pins the clock:
// with 30 days, a conversation that ended 31 days ago goes with its rows;
// one that ended 29 days ago, an open one however old, and one at an
// endpoint that keeps conversations forever (0) stay.
func TestRetentionDeletesOldEndedConversationsAndNothingNewer(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, d store.Dialect) {
		now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		s := storetest.NewOf(t, d, store.Options{Now: func() time.Time { return now }})
		ctx := context.Background()
		kept := store.Endpoint{OrganisationID: 1, Name: "kept", URLToken: "k", Privacy: store.PrivacySettings{ConversationRetentionDays: 0}}
		month := store.Endpoint{OrganisationID: 1, Name: "month", URLToken: "m", Privacy: store.PrivacySettings{ConversationRetentionDays: 30}}
		for _, e := range []*store.Endpoint{&kept, &month} {
			if err := s.CreateEndpoint(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		conv := func(e store.Endpoint, session string, endedDaysAgo int) int64 {
			t.Helper()
			c := &store.Conversation{EndpointID: e.ID, SessionID: session, UserID: "u", CustomerID: session, State: store.StateQueued, CreatedAt: now.AddDate(0, 0, -60)}
			if err := s.CreateConversation(ctx, c); err != nil {
				t.Fatal(err)
			}
			if err := s.InsertMessage(ctx, &store.Message{ConversationID: c.ID, EndpointID: e.ID, SessionID: session, Direction: store.FromUser, Kind: store.KindText, Text: "hi"}); err != nil {
				t.Fatal(err)
			}
			if endedDaysAgo >= 0 {
				if _, err := s.EndConversation(ctx, c.ID, store.StateEnded, store.ReasonUserEnded, now.AddDate(0, 0, -endedDaysAgo)); err != nil {
					t.Fatal(err)
				}
			}
			return c.ID
		}
		old := conv(month, "old", 31)
		survivors := []int64{conv(month, "recent", 29), conv(month, "open", -1), conv(kept, "forever", 365)}

		r := relay.New(relay.Config{Store: s})
		deleted, err := r.PruneConversations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if deleted.Conversations != 1 || deleted.Messages != 1 {
			t.Fatalf("deleted %+v, want the one old conversation with its text", deleted)
		}
		if _, err := s.ConversationByID(ctx, old); err == nil {
			t.Fatal("the conversation past the retention is still there")
		}
		for _, id := range survivors {
			if _, err := s.ConversationByID(ctx, id); err != nil {
				t.Fatalf("conversation #%d was deleted: %v", id, err)
			}
		}
	})
}
