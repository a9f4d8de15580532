package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/handover-relay/handover/store"
	"github.com/handover-relay/handover/store/storetest"
)

// The console's queries on a database of a realistic size: a million
// messages across 50,000 conversations. Run with
//
//	go test -run '^$' -bench ConsoleQueries -benchtime 2s ./store/
//
// Plain go test never runs it (benchmarks need -bench); -short skips the fill.
const (
	benchConversations = 50_000
	benchMessages      = 1_000_000
	benchEndpoints     = 5
	benchUsers         = 10_000 // so a user id matches five conversations
)

func BenchmarkConsoleQueriesWithAMillionMessages(b *testing.B) {
	if testing.Short() {
		b.Skip("fills a database with a million messages; not with -short")
	}
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		b.Run(string(d), func(b *testing.B) {
			if d == store.Postgres && !storetest.PostgresAvailable() {
				b.Skip("set HANDOVER_TEST_POSTGRES_URL to measure on PostgreSQL too")
			}
			benchConsoleQueries(b, storetest.OpenWith(b, storetest.DatabaseURL(b, d), store.Options{}))
		})
	}
}

func benchConsoleQueries(b *testing.B, s *store.Store) {
	ctx := context.Background()
	started := time.Now()
	newest := fillConsoleBench(b, s)
	b.Logf("filled %d conversations and %d messages (plus %d webhooks and %d Genesys calls) in %s",
		benchConversations, benchMessages, 2*benchConversations, 2*benchConversations, time.Since(started).Round(time.Millisecond))
	if s.Dialect() == store.SQLite {
		logPlans(b, s)
	}

	run := func(name string, fn func(i int) error) {
		b.Run(name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if err := fn(i); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/op")
		})
	}
	list := func(f store.ConversationFilter, wantRows int) func(int) error {
		return func(int) error {
			p, err := s.ListConversations(ctx, f)
			if err == nil && len(p.Rows) != wantRows {
				err = fmt.Errorf("%+v: %d rows, want %d", f, len(p.Rows), wantRows)
			}
			return err
		}
	}
	day := store.TimeRange{From: newest.Add(-24 * time.Hour)}
	run("conversations list/first page", list(store.ConversationFilter{}, store.DefaultPageSize))
	run("conversations list/deep page (before cursor)", list(store.ConversationFilter{Before: benchConversations / 10}, store.DefaultPageSize))
	run("conversations list/endpoint and state", list(store.ConversationFilter{EndpointID: 2, State: store.StateEnded}, store.DefaultPageSize))
	run("conversations list/failed in the last 24 hours", list(store.ConversationFilter{State: store.StateFailed, Created: day}, store.DefaultPageSize))
	run("conversations list/endpoint and a state it has none of", list(store.ConversationFilter{EndpointID: 3, State: store.StateAgentJoined}, 0))
	run("conversations list/search user id", list(store.ConversationFilter{Search: "user-4242"}, benchConversations/benchUsers))
	run("conversations list/search Genesys id", list(store.ConversationFilter{Search: "g-31337"}, 1))
	run("conversation page", func(i int) error {
		id := int64(1 + (i*7919)%benchConversations) // a different conversation each time
		if _, err := s.ConversationByID(ctx, id); err != nil {
			return err
		}
		msgs, err := s.ConversationMessages(ctx, id)
		if err == nil && len(msgs) != benchMessages/benchConversations {
			err = fmt.Errorf("conversation %d: %d messages", id, len(msgs))
		}
		if err != nil {
			return err
		}
		if _, err := s.WebhooksOf(ctx, id); err != nil {
			return err
		}
		if _, err := s.APICallsOf(ctx, id); err != nil {
			return err
		}
		_, err = s.OutboxOf(ctx, id)
		return err
	})
	run("webhooks list/rejected", func(int) error {
		_, err := s.ListWebhooks(ctx, store.WebhookFilter{Verdict: store.WebhooksRejected})
		return err
	})
	for _, chart := range []struct {
		name     string
		step     time.Duration
		buckets  int
		endpoint int64
	}{
		{"dashboard charts/last hour", 5 * time.Minute, 12, 0},
		{"dashboard charts/last 24 hours", time.Hour, 24, 0},
		{"dashboard charts/last 7 days", 6 * time.Hour, 28, 0},
		{"dashboard charts/last 7 days, one endpoint", 6 * time.Hour, 28, 2},
	} {
		run(chart.name, func(int) error {
			c, err := s.DashboardCharts(ctx, store.ChartQuery{To: newest.Add(time.Minute), Step: chart.step, Buckets: chart.buckets, EndpointID: chart.endpoint})
			if err == nil && c.Requested[chart.buckets-1] == 0 {
				err = fmt.Errorf("%s: no handovers in the last interval", chart.name)
			}
			return err
		})
	}
	for _, endpoint := range []int64{1, 3} { // every failure is endpoint 1's
		run(fmt.Sprintf("api calls list/failed for endpoint %d", endpoint), func(int) error {
			_, err := s.ListAPICalls(ctx, store.APICallFilter{EndpointID: endpoint, Status: store.APICallsFailed})
			return err
		})
	}
}

// fillConsoleBench writes the rows with raw SQL: multi-row INSERTs through
// prepared statements, a few big transactions. It returns the newest
// conversation's creation time (one conversation a minute back from it).
func fillConsoleBench(b *testing.B, s *store.Store) time.Time {
	b.Helper()
	ctx := context.Background()
	for i := 1; i <= benchEndpoints; i++ {
		if err := s.CreateEndpoint(ctx, &store.Endpoint{OrganisationID: 1, Name: fmt.Sprintf("bot-%d", i), URLToken: fmt.Sprintf("token-%d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	db, err := store.DB(s).DB()
	if err != nil {
		b.Fatal(err)
	}
	newest := time.Now().UTC().Truncate(time.Second)
	created := func(conv int) time.Time { return newest.Add(-time.Duration(benchConversations-conv) * time.Minute) }
	states := []string{store.StateEnded, store.StateEnded, store.StateEnded, store.StateEnded, store.StateEnded, store.StateEnded, store.StateEnded,
		store.StateQueued, store.StateAgentJoined, store.StateFailed}

	conversations := newBulk(b, db, s.Dialect(), "conversations", []string{"endpoint_id", "session_id", "user_id", "customer_id", "state", "end_reason", "genesys_conversation_id",
		"agent_name", "created_at", "updated_at", "ended_at", "last_message_at", "last_message_preview", "last_message_from"})
	for c := 1; c <= benchConversations; c++ {
		state := states[c%len(states)]
		var ended any
		reason := ""
		if state == store.StateEnded || state == store.StateFailed {
			ended, reason = created(c).Add(10*time.Minute), store.ReasonAgentEnded
		}
		at := created(c)
		conversations.add(1+c%benchEndpoints, fmt.Sprintf("session-%d", c), fmt.Sprintf("user-%d", c%benchUsers), fmt.Sprintf("customer-%d", c), state, reason,
			fmt.Sprintf("g-%d", c), "Max Agent", at, at, ended, at.Add(9*time.Minute), "Thanks, that solved it.", store.FromUser)
	}
	conversations.done()

	perConversation := benchMessages / benchConversations
	messages := newBulk(b, db, s.Dialect(), "messages", []string{"conversation_id", "endpoint_id", "session_id", "direction", "kind", "text", "data", "genesys_message_id", "delivery", "created_at"})
	for c := 1; c <= benchConversations; c++ {
		endpoint, session, at := 1+c%benchEndpoints, fmt.Sprintf("session-%d", c), created(c)
		for m := range perConversation {
			direction, kind, text, data := store.FromUser, store.KindText, "I would like to change the address on my invoice, please.", "{}"
			switch {
			case m == 0:
				direction, kind, text = store.FromBot, store.KindTranscript, "User (10:00): hello\nBot (10:00): How can I help?\nUser (10:01): I want a human"
			case m == 1 || m == perConversation-1:
				direction, kind, text, data = store.FromSystem, store.KindState, "", `{"state":"ended","reason":"agent_ended"}`
			case m%2 == 0:
				direction, text = store.FromAgent, "Of course, I have changed it for you. Anything else?"
			}
			messages.add(c, endpoint, session, direction, kind, text, data, fmt.Sprintf("gm-%d-%d", c, m), store.DeliveryDelivered, at.Add(time.Duration(m)*20*time.Second))
		}
	}
	messages.done()

	// One bulk at a time: SQLite's store has one connection, which a bulk's transaction holds.
	webhooks := newBulk(b, db, s.Dialect(), "webhooks", []string{"received_at", "endpoint_id", "conversation_id", "integration_id", "genesys_message_id", "event_type", "headers", "body",
		"verdict", "verdict_detail", "status", "latency_us", "dedupe_key", "outcome", "processed_at"})
	for c := 1; c <= benchConversations; c++ {
		endpoint, at := 1+c%benchEndpoints, created(c)
		for k := range 2 {
			verdict, status, conv := store.VerdictValid, 200, any(c)
			if c%50 == 0 && k == 1 {
				verdict, status, conv = store.VerdictMismatch, 401, nil
			}
			webhooks.add(at.Add(time.Duration(k)*time.Minute), endpoint, conv, "integration", fmt.Sprintf("gm-%d-%d", c, k), "Text", "{}", `{"type":"Text"}`,
				verdict, "", status, 900, fmt.Sprintf("integration|Text|gm-%d-%d", c, k), store.OutcomeDelivered, at.Add(time.Duration(k)*time.Minute))
		}
	}
	webhooks.done()
	calls := newBulk(b, db, s.Dialect(), "api_calls", []string{"endpoint_id", "conversation_id", "method", "path", "status", "latency_ms", "attempt", "error", "created_at"})
	for c := 1; c <= benchConversations; c++ {
		endpoint, at := 1+c%benchEndpoints, created(c)
		for k := range 2 {
			callStatus, callErr := 202, ""
			if c%20 == 0 {
				callStatus, callErr = 503, "Genesys answered 503"
			}
			calls.add(endpoint, c, "POST", "/api/v2/conversations/messages/integration/inbound/open/message", callStatus, 120, 1, callErr, at.Add(time.Duration(k)*time.Minute))
		}
	}
	calls.done()
	if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	return newest
}

// bulk inserts rows of one table, bulkRows per statement and bulkTx per transaction.
type bulk struct {
	b       *testing.B
	db      *sql.DB
	tx      *sql.Tx
	stmt    *sql.Stmt
	sql     func(rows int) string
	columns int
	args    []any
	inTx    int
}

const (
	bulkRows = 200
	bulkTx   = 250_000
)

func newBulk(b *testing.B, db *sql.DB, dialect store.Dialect, table string, columns []string) *bulk {
	k := &bulk{b: b, db: db, columns: len(columns), sql: func(rows int) string {
		var q strings.Builder
		q.WriteString("INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES ")
		n := 0
		for r := range rows {
			if r > 0 {
				q.WriteByte(',')
			}
			q.WriteByte('(')
			for c := range columns {
				if c > 0 {
					q.WriteByte(',')
				}
				n++
				if dialect == store.Postgres {
					fmt.Fprintf(&q, "$%d", n) // pgx numbers its placeholders
				} else {
					q.WriteByte('?')
				}
			}
			q.WriteByte(')')
		}
		return q.String()
	}}
	k.begin()
	return k
}

func (k *bulk) begin() {
	var err error
	if k.tx, err = k.db.Begin(); err != nil {
		k.b.Fatal(err)
	}
	if k.stmt, err = k.tx.Prepare(k.sql(bulkRows)); err != nil {
		k.b.Fatal(err)
	}
}

func (k *bulk) add(values ...any) {
	k.args = append(k.args, values...)
	if len(k.args) == bulkRows*k.columns {
		if _, err := k.stmt.Exec(k.args...); err != nil {
			k.b.Fatal(err)
		}
		k.args = k.args[:0]
		if k.inTx += bulkRows; k.inTx >= bulkTx {
			k.commit()
			k.begin()
		}
	}
}

func (k *bulk) commit() {
	k.stmt.Close()
	if err := k.tx.Commit(); err != nil {
		k.b.Fatal(err)
	}
	k.inTx = 0
}

func (k *bulk) done() {
	if rest := len(k.args) / k.columns; rest > 0 {
		if _, err := k.tx.Exec(k.sql(rest), k.args...); err != nil {
			k.b.Fatal(err)
		}
	}
	k.commit()
}

// logPlans shows how SQLite runs the list queries, to check they use their indexes.
func logPlans(b *testing.B, s *store.Store) {
	db, _ := store.DB(s).DB()
	for _, q := range []string{
		"SELECT * FROM conversations ORDER BY id DESC LIMIT 51",
		"SELECT * FROM conversations WHERE endpoint_id = 2 AND state = 'ended' ORDER BY id DESC LIMIT 51",
		"SELECT * FROM conversations WHERE state = 'failed' AND created_at >= '2026-01-01' ORDER BY id DESC LIMIT 51",
		"SELECT * FROM conversations WHERE (session_id = 'x' OR user_id = 'x' OR (genesys_conversation_id = 'x' AND genesys_conversation_id <> '')) ORDER BY id DESC LIMIT 51",
		"SELECT * FROM messages WHERE conversation_id = 42 ORDER BY id",
		"SELECT * FROM webhooks WHERE conversation_id = 42 ORDER BY id",
		"SELECT * FROM webhooks WHERE verdict <> 'valid' ORDER BY id DESC LIMIT 51",
		"SELECT * FROM api_calls WHERE endpoint_id = 3 AND (status NOT BETWEEN 200 AND 399 OR error <> '') ORDER BY id DESC LIMIT 51",
	} {
		rows, err := db.Query("EXPLAIN QUERY PLAN " + q)
		if err != nil {
			b.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				b.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		b.Logf("%s\n\t→ %s", q, strings.Join(plan, "; "))
	}
}
