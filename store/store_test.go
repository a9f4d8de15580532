package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/handover-relay/handover/secret"
	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

func TestEveryModelFieldHasAMigratedColumn(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		db := store.DB(s)
		for _, model := range store.AllModels() {
			stmt := &gorm.Statement{DB: db}
			if err := stmt.Parse(model); err != nil {
				t.Fatalf("parse %T: %v", model, err)
			}
			if !db.Migrator().HasTable(stmt.Schema.Table) {
				t.Errorf("%T: table %s is not created by the migrations", model, stmt.Schema.Table)
				continue
			}
			for _, field := range stmt.Schema.Fields {
				if field.DBName == "" || field.IgnoreMigration {
					continue
				}
				if !db.Migrator().HasColumn(model, field.DBName) {
					t.Errorf("%T.%s: column %s.%s is missing from the migrations", model, field.Name, stmt.Schema.Table, field.DBName)
				}
			}
		}
	})
}

func TestMigrateTwiceChangesNothing(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		orgs, err := s.ListOrganisations(context.Background())
		if err != nil || len(orgs) != 1 || orgs[0].Name != store.DefaultOrganisation {
			t.Fatalf("organisations after two migrations = %+v, %v; want only %q", orgs, err, store.DefaultOrganisation)
		}
	})
}

func TestEndpointSecretsAreSealedInTheDatabaseFile(t *testing.T) {
	dir := t.TempDir()
	s := storetest.Open(t, "sqlite:"+filepath.Join(dir, "handover.db"))
	ctx := context.Background()
	org, err := s.OrganisationByName(ctx, "DEFAULT")
	if err != nil {
		t.Fatal(err)
	}
	const webhookSecret, clientSecret = "webhook-secret-PLAINTEXT-4711", "client-secret-PLAINTEXT-0815"
	e := &store.Endpoint{OrganisationID: org.ID, Name: "Support", URLToken: "tok", WebhookSecret: webhookSecret, ClientSecret: clientSecret}
	if err := s.CreateEndpoint(ctx, e); err != nil {
		t.Fatal(err)
	}

	var raw struct{ WebhookSecretSealed, ClientSecretSealed string }
	if err := store.DB(s).Raw("SELECT webhook_secret_sealed, client_secret_sealed FROM endpoints WHERE id = ?", e.ID).Scan(&raw).Error; err != nil {
		t.Fatal(err)
	}
	if raw.WebhookSecretSealed == "" || raw.WebhookSecretSealed == webhookSecret || raw.ClientSecretSealed == clientSecret {
		t.Fatalf("raw row holds %+v; want sealed values", raw)
	}
	if err := s.Close(); err != nil { // flush the WAL into the file before reading it
		t.Fatal(err)
	}
	for _, name := range []string{"handover.db", "handover.db-wal"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, plain := range []string{webhookSecret, clientSecret} {
			if bytes.Contains(data, []byte(plain)) {
				t.Fatalf("%s contains the plaintext secret %q", name, plain)
			}
		}
	}

	reopened := storetest.Open(t, "sqlite:"+filepath.Join(dir, "handover.db"))
	got, err := reopened.EndpointByID(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.WebhookSecret != webhookSecret || got.ClientSecret != clientSecret {
		t.Fatalf("opened secrets = %q, %q", got.WebhookSecret, got.ClientSecret)
	}
}

func TestSealedSecretsDoNotOpenUnderAnotherKey(t *testing.T) {
	storetest.RunDialects(t, func(t *testing.T, d store.Dialect) {
		url := storetest.DatabaseURL(t, d)
		s := storetest.Open(t, url)
		ctx := context.Background()
		e := &store.Endpoint{OrganisationID: 1, Name: "Support", URLToken: "tok", WebhookSecret: "w-secret"}
		if err := s.CreateEndpoint(ctx, e); err != nil {
			t.Fatal(err)
		}
		otherBox, _ := secret.NewBox(bytes.Repeat([]byte{9}, secret.KeySize))
		other, err := store.Open(ctx, url, otherBox, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if _, err := other.EndpointByID(ctx, e.ID); err == nil {
			t.Fatal("endpoint opened under a different key")
		}
	})
}

func TestEndpointNamesAreUniquePerOrganisation(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		other, err := s.CreateOrganisation(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateEndpoint(ctx, &store.Endpoint{OrganisationID: 1, Name: "Support", URLToken: "a"}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateEndpoint(ctx, &store.Endpoint{OrganisationID: other.ID, Name: "Support", URLToken: "b"}); err != nil {
			t.Fatalf("same name in another organisation: %v", err)
		}
		err = s.CreateEndpoint(ctx, &store.Endpoint{OrganisationID: 1, Name: "Support", URLToken: "c"})
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate name error = %v, want ErrConflict", err)
		}
		if _, err := s.CreateOrganisation(ctx, "ACME"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("organisation names differing in case: %v, want ErrConflict", err)
		}
	})
}

func TestUpdateAndDeleteEndpoint(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		e := &store.Endpoint{OrganisationID: 1, Name: "Support", URLToken: "tok", DefaultSkills: []string{"billing"}, DefaultCustomAttributes: map[string]string{"tier": "gold"}}
		if err := s.CreateEndpoint(ctx, e); err != nil {
			t.Fatal(err)
		}
		e.Name, e.DefaultPriority, e.SendProfile, e.RelayTyping = "Sales", 3, true, false
		e.URLToken = "must-not-change"
		if err := s.UpdateEndpoint(ctx, e); err != nil {
			t.Fatal(err)
		}
		got, err := s.EndpointByToken(ctx, "tok")
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Sales" || got.DefaultPriority != 3 || !got.SendProfile || got.RelayTyping || got.DefaultSkills[0] != "billing" || got.DefaultCustomAttributes["tier"] != "gold" {
			t.Fatalf("updated endpoint = %+v", got)
		}
		if got.Organisation.Name != store.DefaultOrganisation {
			t.Fatalf("organisation not joined: %+v", got.Organisation)
		}
		if err := s.DeleteEndpoint(ctx, e.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.EndpointByID(ctx, e.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after delete: %v, want ErrNotFound", err)
		}
		if err := s.DeleteEndpoint(ctx, e.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete: %v, want ErrNotFound", err)
		}
	})
}

func TestSessionsExpire(t *testing.T) {
	ctx := context.Background()
	storetest.RunDialects(t, func(t *testing.T, d store.Dialect) {
		now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
		s := storetest.NewOf(t, d, store.Options{Now: func() time.Time { return now }})
		admin, err := s.CreateAdmin(ctx, "admin", "hash")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateSession(ctx, &store.Session{TokenHash: "h1", AdminID: admin.ID, CSRFToken: "c", ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		sess, err := s.UseSession(ctx, "h1", 0)
		if err != nil || sess.Admin.Username != "admin" {
			t.Fatalf("live session = %+v, %v", sess, err)
		}
		now = now.Add(2 * time.Hour)
		if _, err := s.UseSession(ctx, "h1", 0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired session: %v, want ErrNotFound", err)
		}
		if n, err := s.DeleteExpiredSessions(ctx, 0); err != nil || n != 1 {
			t.Fatalf("pruned %d, %v; want 1", n, err)
		}
	})
}

// lastSeen reads a session's last_seen_at straight from the database.
func lastSeen(t *testing.T, s *store.Store, tokenHash string) time.Time {
	t.Helper()
	var sess store.Session
	if err := store.DB(s).Where("token_hash = ?", tokenHash).Take(&sess).Error; err != nil {
		t.Fatal(err)
	}
	return sess.LastSeenAt.UTC()
}

func TestASessionUnusedForTheIdleTimeoutEndsAndUseKeepsItAlive(t *testing.T) {
	ctx := context.Background()
	const idle = 12 * time.Hour
	storetest.RunDialects(t, func(t *testing.T, d store.Dialect) {
		start := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
		now := start
		s := storetest.NewOf(t, d, store.Options{Now: func() time.Time { return now }})
		admin, err := s.CreateAdmin(ctx, "admin", "hash")
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range []string{"used", "idle"} {
			if err := s.CreateSession(ctx, &store.Session{TokenHash: h, AdminID: admin.ID, CSRFToken: "c", ExpiresAt: start.Add(168 * time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		// Used again within the minute: no write.
		now = start.Add(30 * time.Second)
		if _, err := s.UseSession(ctx, "used", idle); err != nil {
			t.Fatal(err)
		}
		if got := lastSeen(t, s, "used"); !got.Equal(start) {
			t.Fatalf("a use within the minute wrote last_seen_at %s", got)
		}
		// Used 11 hours later: alive, and the use is recorded.
		now = start.Add(11 * time.Hour)
		sess, err := s.UseSession(ctx, "used", idle)
		if err != nil || !sess.LastSeenAt.Equal(now) {
			t.Fatalf("a session used 11 h after its last use: %+v, %v", sess, err)
		}
		if got := lastSeen(t, s, "used"); !got.Equal(now) {
			t.Fatalf("last_seen_at %s, want %s", got, now)
		}
		// 12 hours and a second after creation: the unused one has ended,
		// the used one lives on.
		now = start.Add(idle + time.Second)
		if _, err := s.UseSession(ctx, "idle", idle); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a session unused for 12 h: %v, want ErrNotFound", err)
		}
		if _, err := s.UseSession(ctx, "used", idle); err != nil {
			t.Fatalf("a session used an hour ago: %v", err)
		}
		if n, err := s.DeleteExpiredSessions(ctx, idle); err != nil || n != 1 {
			t.Fatalf("pruned %d, %v; want the idle session only", n, err)
		}
		if _, err := s.UseSession(ctx, "used", idle); err != nil {
			t.Fatalf("pruning took the live session: %v", err)
		}
	})
}

func TestSigningOutEverywhereEndsEverySessionOfThatAdminOnly(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ann, _ := s.CreateAdmin(ctx, "ann", "hash")
		bob, _ := s.CreateAdmin(ctx, "bob", "hash")
		for h, id := range map[string]int64{"ann-1": ann.ID, "ann-2": ann.ID, "bob-1": bob.ID} {
			if err := s.CreateSession(ctx, &store.Session{TokenHash: h, AdminID: id, CSRFToken: "c", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := s.DeleteSessionsOfAdmin(ctx, ann.ID); err != nil || n != 2 {
			t.Fatalf("deleted %d, %v; want ann's 2", n, err)
		}
		if _, err := s.UseSession(ctx, "bob-1", time.Hour); err != nil {
			t.Fatalf("bob was signed out too: %v", err)
		}
		if err := s.SetAdminPassword(ctx, bob.ID, "new-hash"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.AdminByUsername(ctx, "bob"); got.PasswordHash != "new-hash" {
			t.Fatalf("password hash %q", got.PasswordHash)
		}
		if err := s.SetAdminPassword(ctx, 999, "x"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown admin: %v, want ErrNotFound", err)
		}
	})
}

func TestRevokedAPIKeysStopWorking(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		k, err := s.CreateAPIKey(ctx, "ci", "hk_abcd", "hash-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.APIKeyByHash(ctx, "hash-1"); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeAPIKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.APIKeyByHash(ctx, "hash-1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoked key: %v, want ErrNotFound", err)
		}
		if err := s.RevokeAPIKey(ctx, k.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second revoke: %v, want ErrNotFound", err)
		}
	})
}

// Under load every connection PostgreSQL gave is kept for the next request:
// one closed as it came back would be opened again at once, a new server
// process each (docs/performance.md).
func TestPostgresKeepsTheConnectionsALoadOpened(t *testing.T) {
	storetest.SkipWithoutPostgres(t)
	s := storetest.Open(t, storetest.DatabaseURL(t, store.Postgres))
	sqlDB, err := store.DB(s).DB()
	if err != nil {
		t.Fatal(err)
	}
	// As many transactions at once as the pool may open, each holding its
	// connection until all have one.
	open := sqlDB.Stats().MaxOpenConnections
	all := make(chan struct{})
	began := make(chan struct{}, open)
	errs := make(chan error, open)
	for range open {
		go func() {
			errs <- s.InTx(context.Background(), func(tx *store.Store) error {
				if _, err := tx.EndpointByToken(context.Background(), "none"); !errors.Is(err, store.ErrNotFound) {
					return err
				}
				began <- struct{}{}
				<-all
				return nil
			})
		}()
	}
	for range open {
		<-began
	}
	close(all)
	for range open {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if stats := sqlDB.Stats(); stats.OpenConnections != open || stats.MaxIdleClosed != 0 {
		t.Fatalf("after %d transactions at once: %d connections open, %d closed for the idle limit; want all %d kept", open, stats.OpenConnections, stats.MaxIdleClosed, open)
	}
}

// The webhook log's insert and its read by id are written out by hand
// (webhooks.go): every field of a Webhook must come back as it went in, by
// that read and by gorm's, so that a field added to the model and not to a
// column list fails here.
func TestALoggedWebhookKeepsEveryField(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		fillers(t, s)
		e := newEndpoint(t, s, "every-field")
		c := store.Conversation{EndpointID: e.ID, SessionID: "s", UserID: "u", CustomerID: "c", State: store.StateQueued}
		if err := s.CreateConversation(ctx, &c); err != nil {
			t.Fatal(err)
		}
		earlier := store.Webhook{ReceivedAt: time.Now().UTC(), Verdict: store.VerdictMalformed, Status: 400}
		if _, err := s.InsertWebhook(ctx, &earlier); err != nil {
			t.Fatal(err)
		}
		received, processed := time.Date(2026, 12, 4, 20, 0, 0, 123_000_000, time.UTC), time.Date(2026, 12, 4, 20, 0, 1, 0, time.UTC)
		key := "integration/m1/Text"
		in := store.Webhook{ReceivedAt: received, EndpointID: &e.ID, ConversationID: &c.ID, IntegrationID: "integration", GenesysMessageID: "m1",
			EventType: "Text", Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"id":"m1"}`, BodyBytes: 11,
			BodySHA256: "abc", Verdict: store.VerdictValid, VerdictDetail: "detail", Status: 200, LatencyUS: 42, DedupeKey: &key,
			Outcome: store.OutcomeDelivered, ProcessedAt: &processed, ReplayOf: &earlier.ID, ClockSkewMS: -61_000, Masked: true}
		everyFieldSet(t, in, "ID")
		distinctIDs(t, e.ID, c.ID, earlier.ID)
		w := in
		if _, err := s.InsertWebhook(ctx, &w); err != nil {
			t.Fatal(err)
		}
		got, err := s.WebhookByID(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		in.ID = w.ID
		// Times come back in the database's zone; compare the instants.
		if !got.ReceivedAt.Equal(in.ReceivedAt) || got.ProcessedAt == nil || !got.ProcessedAt.Equal(*in.ProcessedAt) {
			t.Fatalf("times: got %v and %v, want %v and %v", got.ReceivedAt, got.ProcessedAt, in.ReceivedAt, processed)
		}
		got.ReceivedAt, got.ProcessedAt = in.ReceivedAt, in.ProcessedAt
		if !reflect.DeepEqual(got, in) {
			t.Fatalf("logged\n%+v\nread back\n%+v", in, got)
		}
		// The read by id is written out too: gorm's read must agree with it,
		// or a column swapped in both lists would go unseen.
		byGorm, err := s.WebhooksOf(ctx, c.ID)
		if err != nil || len(byGorm) != 1 {
			t.Fatalf("gorm's read: %+v, %v", byGorm, err)
		}
		if g := byGorm[0]; !g.ReceivedAt.Equal(in.ReceivedAt) || g.ProcessedAt == nil || !g.ProcessedAt.Equal(*in.ProcessedAt) {
			t.Fatalf("gorm's read, times: %v and %v", g.ReceivedAt, g.ProcessedAt)
		}
		byGorm[0].ReceivedAt, byGorm[0].ProcessedAt = in.ReceivedAt, in.ProcessedAt
		if !reflect.DeepEqual(byGorm[0], in) {
			t.Fatalf("logged\n%+v\nread by gorm\n%+v", in, byGorm[0])
		}
		// Finishing it without naming a conversation keeps the one it has.
		if err := s.FinishWebhook(ctx, w.ID, store.OutcomeLogged, nil, processed); err != nil {
			t.Fatal(err)
		}
		if got, err := s.WebhookByID(ctx, w.ID); err != nil || got.Outcome != store.OutcomeLogged || got.ConversationID == nil || *got.ConversationID != c.ID {
			t.Fatalf("finished without a conversation: outcome %q, conversation %v (%v); want %q, %d", got.Outcome, got.ConversationID, err, store.OutcomeLogged, c.ID)
		}
	})
}

// The conversation's read is written out (conversationColumns): every field
// set on create must come back from each of the reads the relay makes.
func TestAConversationKeepsEveryField(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		fillers(t, s)
		e := newEndpoint(t, s, "every-field")
		at := func(minute int) *time.Time {
			v := time.Date(2026, 12, 4, 20, minute, 0, 123_000_000, time.UTC)
			return &v
		}
		in := store.Conversation{EndpointID: e.ID, SessionID: "s", UserID: "u", CustomerID: "c", State: store.StateAgentJoined,
			EndReason: store.ReasonTimeout, Language: "fr-FR", Skills: []string{"billing", "vip"}, Priority: 7,
			CustomAttributes: map[string]string{"plan": "gold"}, FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com",
			GenesysConversationID: "g-1", AgentName: "Grace", CreatedAt: *at(1), UpdatedAt: *at(2), AgentJoinedAt: at(3),
			AgentConnectedAt: at(4), FirstAgentMessageAt: at(5), LastMessageAt: at(6), LastMessagePreview: "hello",
			LastMessageFrom: store.FromAgent, NextQueueUpdateAt: at(7), LastExchangeAt: at(8)}
		everyFieldSet(t, in, "ID", "EndedAt")
		c := in
		if err := s.CreateConversation(ctx, &c); err != nil {
			t.Fatal(err)
		}
		in.ID = c.ID
		distinctIDs(t, e.ID, c.ID)
		reads := map[string]func() (store.Conversation, error){
			"by id":         func() (store.Conversation, error) { return s.ConversationByID(ctx, c.ID) },
			"open":          func() (store.Conversation, error) { return s.OpenConversation(ctx, e.ID, "s") },
			"by Genesys id": func() (store.Conversation, error) { return s.ConversationByGenesysID(ctx, "g-1") },
		}
		for name, read := range reads {
			got, err := read()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !reflect.DeepEqual(inUTC(got), in) {
				t.Fatalf("%s: created\n%+v\nread back\n%+v", name, in, got)
			}
		}
		// The one field that must stay unset above, for the open read.
		if _, err := s.EndConversation(ctx, c.ID, store.StateEnded, store.ReasonUserEnded, *at(9)); err != nil {
			t.Fatal(err)
		}
		got, err := s.ConversationByID(ctx, c.ID)
		if err != nil || got.EndedAt == nil {
			t.Fatalf("ended conversation read back as %+v, %v", got, err)
		}
		if _, err := s.OpenConversation(ctx, e.ID, "s"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("open conversation of an ended session: %v, want ErrNotFound", err)
		}
	})
}

// inUTC is c with its times in UTC: PostgreSQL gives them in its zone.
func inUTC(c store.Conversation) store.Conversation {
	v := reflect.ValueOf(&c).Elem()
	for i := range v.NumField() {
		switch f := v.Field(i).Addr().Interface().(type) {
		case *time.Time:
			*f = f.UTC()
		case **time.Time:
			if *f != nil {
				u := (*f).UTC()
				*f = &u
			}
		}
	}
	return c
}

// The call log's insert is written out (insertAPICallSQL): every field must
// come back.
func TestALoggedAPICallKeepsEveryField(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		fillers(t, s)
		c := seedConversation(t, s, "api-call", 1)
		items, err := s.ClaimDueOutbox(ctx, "a", time.Minute, 1)
		if err != nil || len(items) != 1 {
			t.Fatalf("claim: %v, %v", items, err)
		}
		in := store.APICall{EndpointID: c.EndpointID, ConversationID: &c.ID, OutboxID: &items[0].ID, Method: "POST",
			Path: "/api/v2/conversations/messages/i/inbound/open/message", Status: 429, LatencyMS: 12, Attempt: 3,
			Error: "rate limited", CreatedAt: time.Date(2026, 12, 4, 20, 0, 0, 123_000_000, time.UTC)}
		everyFieldSet(t, in, "ID")
		distinctIDs(t, in.EndpointID, *in.ConversationID, *in.OutboxID)
		call := in
		if err := s.InsertAPICall(ctx, &call); err != nil {
			t.Fatal(err)
		}
		if call.ID == 0 {
			t.Fatal("the logged call has no id")
		}
		in.ID = call.ID
		got, err := s.APICallsOf(ctx, c.ID)
		onlyRowIs(t, "calls of the conversation", got, err, in, func(c *store.APICall) *time.Time { return &c.CreatedAt })
	})
}

// The timeline's insert is written out (insertMessageSQL): every field must
// come back.
func TestATimelineMessageKeepsEveryField(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		fillers(t, s)
		c := seedConversation(t, s, "timeline", 0)
		in := store.Message{ConversationID: c.ID, EndpointID: c.EndpointID, SessionID: "timeline", Direction: store.FromUser,
			Kind: store.KindText, Text: "hello", Data: store.MessageData{Attachments: []store.Attachment{{URL: "https://example.com/a.png", MediaType: "Image"}},
				QuickReplies: []store.QuickReply{{Text: "Yes", Payload: "yes"}}},
			GenesysMessageID: "gm-1", Delivery: store.DeliverySent, Error: "none", CreatedAt: time.Date(2026, 12, 4, 20, 0, 0, 123_000_000, time.UTC)}
		everyFieldSet(t, in, "ID")
		m := in
		if err := s.InsertMessage(ctx, &m); err != nil {
			t.Fatal(err)
		}
		if m.ID == 0 {
			t.Fatal("the inserted message has no id")
		}
		in.ID = m.ID
		distinctIDs(t, in.ID, in.ConversationID, in.EndpointID)
		got, err := s.ConversationMessages(ctx, c.ID)
		onlyRowIs(t, "timeline", got, err, in, func(m *store.Message) *time.Time { return &m.CreatedAt })
	})
}

// The outbox's insert is written out (insertOutboxSQL): every field must
// come back.
func TestAQueuedCallKeepsEveryField(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		fillers(t, s)
		c := seedConversation(t, s, "queued", 0)
		m := store.Message{ConversationID: c.ID, EndpointID: c.EndpointID, SessionID: "queued", Direction: store.FromUser, Kind: store.KindText, Text: "hi"}
		if err := s.InsertMessage(ctx, &m); err != nil {
			t.Fatal(err)
		}
		at := func(minute int) time.Time { return time.Date(2026, 12, 4, 20, minute, 0, 123_000_000, time.UTC) }
		lease, sent := at(3), at(4)
		in := store.OutboxItem{ConversationID: c.ID, EndpointID: c.EndpointID, MessageID: &m.ID, Kind: store.OutboxMessage,
			Payload: `{"text":"hi"}`, Status: store.OutboxFailed, Attempts: 4, NextAttemptAt: at(2), LeaseOwner: "instance-a",
			LeaseUntil: &lease, LastError: "gone", CreatedAt: at(1), SentAt: &sent}
		everyFieldSet(t, in, "ID")
		item := in
		if err := s.InsertOutbox(ctx, &item); err != nil {
			t.Fatal(err)
		}
		if item.ID == 0 {
			t.Fatal("the queued call has no id")
		}
		// InsertOutbox stamps its own creation time.
		in.ID, in.CreatedAt = item.ID, item.CreatedAt
		distinctIDs(t, in.ID, in.ConversationID, in.EndpointID, *in.MessageID)
		got, err := s.OutboxOf(ctx, c.ID)
		if err != nil || len(got) != 1 {
			t.Fatalf("outbox of the conversation: %+v, %v", got, err)
		}
		g := got[0]
		// PostgreSQL keeps microseconds, and the stamp has nanoseconds.
		if g.CreatedAt.Sub(in.CreatedAt).Abs() >= time.Microsecond || !g.NextAttemptAt.Equal(in.NextAttemptAt) || g.LeaseUntil == nil || !g.LeaseUntil.Equal(lease) ||
			g.SentAt == nil || !g.SentAt.Equal(sent) {
			t.Fatalf("times: got %+v, want %+v", g, in)
		}
		g.CreatedAt, g.NextAttemptAt, g.LeaseUntil, g.SentAt = in.CreatedAt, in.NextAttemptAt, in.LeaseUntil, in.SentAt
		if !reflect.DeepEqual(g, in) {
			t.Fatalf("queued\n%+v\nread back\n%+v", in, g)
		}
		if s.Dialect() != store.SQLite {
			return
		}
		// The sent mark reads the call it leases with a written-out read
		// (outboxColumns): it must be the row as gorm reads it.
		first := store.OutboxItem{ConversationID: c.ID, EndpointID: c.EndpointID, Kind: store.OutboxEvent, Payload: "{}"}
		second := store.OutboxItem{ConversationID: c.ID, EndpointID: c.EndpointID, MessageID: &m.ID, Kind: store.OutboxMessage, Payload: `{"text":"again"}`,
			Attempts: 2, LastError: "earlier", SentAt: &sent}
		for _, item := range []*store.OutboxItem{&first, &second} {
			if err := s.InsertOutbox(ctx, item); err != nil {
				t.Fatal(err)
			}
		}
		next, leased, err := s.MarkOutboxSentLeasingNext(ctx, first, 1, "", nil, "instance-b", time.Minute)
		if err != nil || !leased {
			t.Fatalf("the mark leased %v (%v)", leased, err)
		}
		got, err = s.OutboxOf(ctx, c.ID)
		if err != nil || len(got) != 3 {
			t.Fatalf("outbox of the conversation: %+v, %v", got, err)
		}
		if !reflect.DeepEqual(next, got[2]) {
			t.Fatalf("the mark leased\n%+v\nthe outbox holds\n%+v", next, got[2])
		}
	})
}

// The claims of both queues (the Genesys outbox, the bot deliveries) are one
// written-out UPDATE … RETURNING (claimDue): what a claim returns must be the
// row as gorm reads it.
func TestAClaimedCallKeepsEveryField(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		fillers(t, s)
		e := store.Endpoint{OrganisationID: 1, Name: "claimed", URLToken: "tok-claimed", BotWebhookURL: "https://bot.example.com/events",
			BotWebhookSecret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
		if err := s.CreateEndpoint(ctx, &e); err != nil {
			t.Fatal(err)
		}
		c := seedBotSession(t, s, e, "claimed", 1)
		messages, err := s.ConversationMessages(ctx, c.ID)
		if err != nil || len(messages) != 1 {
			t.Fatalf("messages: %+v, %v", messages, err)
		}
		m := messages[0]
		past := s.Now().Add(-time.Hour)
		sent := past.Add(time.Minute)
		item := store.OutboxItem{ConversationID: c.ID, EndpointID: e.ID, MessageID: &m.ID, Kind: store.OutboxMessage, Payload: `{"text":"hi"}`,
			Attempts: 3, NextAttemptAt: past, LeaseOwner: "gone", LeaseUntil: &past, LastError: "timeout", SentAt: &sent}
		if err := s.InsertOutbox(ctx, &item); err != nil {
			t.Fatal(err)
		}
		claimed, err := s.ClaimDueOutbox(ctx, "instance-c", time.Minute, 10)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("the claim took %+v (%v)", claimed, err)
		}
		everyFieldSet(t, claimed[0])
		distinctIDs(t, claimed[0].ID, claimed[0].ConversationID, claimed[0].EndpointID, *claimed[0].MessageID)
		outbox, err := s.OutboxOf(ctx, c.ID)
		if err != nil || len(outbox) != 1 || !reflect.DeepEqual(claimed[0], outbox[0]) {
			t.Fatalf("the claim took\n%+v\nthe outbox holds\n%+v (%v)", claimed, outbox, err)
		}

		// The message queued a delivery to the bot webhook: claim it, fail it
		// so that it records an attempt and is due again, and claim it again.
		deliveries, err := s.ClaimDueBotDeliveries(ctx, "instance-c", time.Minute, 10)
		if err != nil || len(deliveries) != 1 {
			t.Fatalf("the claim took %+v (%v)", deliveries, err)
		}
		attempt := store.BotAttempt{URL: e.BotWebhookURL, ResponseStatus: 503, ResponseExcerpt: "busy", Latency: 42 * time.Millisecond,
			Error: "503 Service Unavailable", At: past}
		if err := s.RecordBotAttempt(ctx, deliveries[0], attempt, &past); err != nil {
			t.Fatal(err)
		}
		if deliveries, err = s.ClaimDueBotDeliveries(ctx, "instance-d", time.Minute, 10); err != nil || len(deliveries) != 1 {
			t.Fatalf("the second claim took %+v (%v)", deliveries, err)
		}
		d := deliveries[0]
		// A message's delivery has no data of its own (its body is made from
		// the message), and a pending one is not delivered.
		everyFieldSet(t, d, "Data", "DeliveredAt")
		distinctIDs(t, d.ID, d.EndpointID, *d.ConversationID, *d.MessageID)
		byGorm, err := s.BotDeliveryByID(ctx, d.ID)
		if err != nil || !reflect.DeepEqual(d, byGorm) {
			t.Fatalf("the claim took\n%+v\ngorm reads\n%+v (%v)", d, byGorm, err)
		}
	})
}

// onlyRowIs fails the test unless rows, read back with err, hold one row,
// equal to want; the time at gives is compared as an instant (PostgreSQL
// gives it in its zone).
func onlyRowIs[T any](t *testing.T, what string, rows []T, err error, want T, at func(*T) *time.Time) {
	t.Helper()
	if err != nil || len(rows) != 1 {
		t.Fatalf("%s: %+v, %v", what, rows, err)
	}
	got := rows[0]
	if !at(&got).Equal(*at(&want)) {
		t.Fatalf("%s: time %v, want %v", what, *at(&got), *at(&want))
	}
	*at(&got) = *at(&want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: written\n%+v\nread back\n%+v", what, want, got)
	}
}

// fillers makes rows in the tables the written-out statements touch, so that
// the rows a test makes next have ids that differ from table to table: two
// id columns swapped in a column list would go unseen when every id is 1.
func fillers(t *testing.T, s *store.Store) {
	t.Helper()
	ctx := context.Background()
	e := newEndpoint(t, s, "filler")
	var first store.Conversation
	for i := range 2 {
		c := store.Conversation{EndpointID: e.ID, SessionID: fmt.Sprint("filler-", i), UserID: "u", CustomerID: fmt.Sprint("filler-", i),
			State: store.StateEnded}
		if err := s.CreateConversation(ctx, &c); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = c
		}
	}
	for range 3 {
		// Sent already: no claim of the test takes them.
		item := store.OutboxItem{ConversationID: first.ID, EndpointID: e.ID, Kind: store.OutboxEvent, Payload: "{}", Status: store.OutboxSent}
		if err := s.InsertOutbox(ctx, &item); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		m := store.Message{ConversationID: first.ID, EndpointID: e.ID, SessionID: first.SessionID, Direction: store.FromSystem, Kind: store.KindState}
		if err := s.InsertMessage(ctx, &m); err != nil {
			t.Fatal(err)
		}
	}
}

// distinctIDs fails the test when two of the ids are equal (see fillers).
func distinctIDs(t *testing.T, ids ...int64) {
	t.Helper()
	for i := range ids {
		if slices.Contains(ids[i+1:], ids[i]) {
			t.Fatalf("ids %v: the test would not see two id columns swapped", ids)
		}
	}
}

// everyFieldSet fails the test when a field of v other than those named is
// left at its zero value: a field added to a struct and not set by a test of
// a written-out insert or read would go untested.
func everyFieldSet(t *testing.T, v any, except ...string) {
	t.Helper()
	fields := reflect.ValueOf(v)
	for i := range fields.NumField() {
		if name := fields.Type().Field(i).Name; fields.Field(i).IsZero() && !slices.Contains(except, name) {
			t.Fatalf("set %s in this test: it is not read back otherwise", name)
		}
	}
}

// A message's delivery is one written-out update (setDelivery), made by the
// outbox's sent mark and by a failure: the Genesys id the mark gave stays
// when a later update names none.
func TestADeliveryUpdateKeepsTheGenesysIDItDoesNotName(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c := seedConversation(t, s, "delivery", 0)
		m := store.Message{ConversationID: c.ID, EndpointID: c.EndpointID, SessionID: "delivery", Direction: store.FromUser, Kind: store.KindText, Text: "hi"}
		if err := s.InsertMessage(ctx, &m); err != nil {
			t.Fatal(err)
		}
		item := store.OutboxItem{ConversationID: c.ID, EndpointID: c.EndpointID, MessageID: &m.ID, Kind: store.OutboxMessage, Payload: "{}"}
		if err := s.InsertOutbox(ctx, &item); err != nil {
			t.Fatal(err)
		}
		delivery := func() store.Message {
			t.Helper()
			got, err := s.ConversationMessages(ctx, c.ID)
			if err != nil || len(got) != 1 {
				t.Fatalf("messages: %+v, %v", got, err)
			}
			return got[0]
		}
		if err := s.MarkOutboxSent(ctx, item, 1, "g-1", nil); err != nil {
			t.Fatal(err)
		}
		if got := delivery(); got.Delivery != store.DeliverySent || got.GenesysMessageID != "g-1" || got.Error != "" {
			t.Fatalf("after the sent mark: %q, %q, %q", got.Delivery, got.GenesysMessageID, got.Error)
		}
		if err := s.SetMessageDelivery(ctx, m.ID, store.DeliveryFailed, "", "no route"); err != nil {
			t.Fatal(err)
		}
		if got := delivery(); got.Delivery != store.DeliveryFailed || got.GenesysMessageID != "g-1" || got.Error != "no route" {
			t.Fatalf("after the failure: %q, %q, %q", got.Delivery, got.GenesysMessageID, got.Error)
		}
		if err := s.SetMessageDelivery(ctx, m.ID, store.DeliveryFailed, "g-2", "again"); err != nil {
			t.Fatal(err)
		}
		if got := delivery(); got.GenesysMessageID != "g-2" || got.Error != "again" {
			t.Fatalf("an update that names an id: %q, %q", got.GenesysMessageID, got.Error)
		}
	})
}
