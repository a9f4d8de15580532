package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/handover-relay/handover/internal/testkit"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// The bot API takes what a bot platform sends, right or wrong. Every refusal
// must be a clear 4xx with {"error":{"code","message"}}, and a refused request
// must leave no trace: no conversation, message or outbox row.

// postRaw sends a body as is to Handover and decodes the JSON answer.
func (i *instance) postRaw(path string, body []byte) (int, http.Header, map[string]any) {
	i.t.Helper()
	resp, err := http.Post(i.base+path, "application/json", bytes.NewReader(body))
	if err != nil {
		i.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(data) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			i.t.Fatalf("POST %s: answer %d is not JSON: %s", path, resp.StatusCode, data)
		}
	}
	return resp.StatusCode, resp.Header, out
}

// openDB opens Handover's SQLite file beside the server (WAL lets both read).
func openDB(t *testing.T, dbURL string) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(sqlite.Open(strings.TrimPrefix(dbURL, "sqlite:")+"?_busy_timeout=5000"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	t.Cleanup(func() { sqlDB.Close() })
	return db
}

// tableCounts counts the rows of tables, read straight from the SQLite file.
func tableCounts(t *testing.T, db *gorm.DB, tables ...string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, table := range tables {
		var n int64
		if err := db.Raw("SELECT count(*) FROM " + table).Scan(&n).Error; err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		out[table] = n
	}
	return out
}

func TestBadBotRequestsAreClearFourHundredsAndLeaveNoTrace(t *testing.T) {
	g := startSandbox(t, nil)
	d := newDeployment(t, g)
	inst := d.start()
	token := d.endpoint.URLToken
	if status, out := inst.post("/"+token+"/handover", map[string]any{"userId": "u1", "sessionId": "s1"}); status != http.StatusAccepted {
		t.Fatalf("handover: %d %v", status, out)
	}
	d.sandboxConversation(inst, "s1")
	// A session whose user ended the handover.
	inst.post("/"+token+"/handover", map[string]any{"userId": "u2", "sessionId": "s-ended"})
	d.sandboxConversation(inst, "s-ended")
	if status, out := inst.post("/"+token+"/sessions/s-ended/end", nil); status != http.StatusOK {
		t.Fatalf("end: %d %v", status, out)
	}
	testkit.WaitFor(t, 5*time.Second, "an empty outbox", func() bool {
		backlog, _, err := inst.srv.Store.OutboxBacklog(context.Background())
		return err == nil && backlog == 0
	})

	long := strings.Repeat("a", 4001)
	msg := func(fields string) []byte { return []byte(`{"userId":"u1","sessionId":"s1",` + fields + `}`) }
	cases := []struct {
		name   string
		path   string
		body   []byte
		status int
		code   string
	}{
		{"text over 4,000 characters", "/" + token, msg(`"text":"` + long + `"`), 413, "text_too_long"},
		{"4,001 two-byte characters", "/" + token, msg(`"text":"` + strings.Repeat("é", 4001) + `"`), 413, "text_too_long"},
		{"invalid UTF-8 in text", "/" + token, msg("\"text\":\"caf\xe9\""), 400, "invalid_utf8"},
		{"invalid UTF-8 in userId", "/" + token, []byte("{\"userId\":\"u\xff\",\"sessionId\":\"s1\",\"text\":\"hi\"}"), 400, "invalid_utf8"},
		{"invalid UTF-8 in sessionId of a handover", "/" + token + "/handover", []byte("{\"userId\":\"u9\",\"sessionId\":\"s\xc3\x28\"}"), 400, "invalid_utf8"},
		{"empty text", "/" + token, msg(`"text":"   "`), 400, "empty_message"},
		{"no sessionId", "/" + token, []byte(`{"userId":"u1","text":"hi"}`), 400, "missing_session_id"},
		{"sessionId over 200 characters", "/" + token + "/handover", []byte(`{"userId":"u1","sessionId":"` + strings.Repeat("s", 201) + `"}`), 400, "id_too_long"},
		{"text of the wrong type", "/" + token, msg(`"text":5`), 400, "invalid_json"},
		{"typing in a session not in handover", "/" + token + "/sessions/nobody/typing", nil, 409, "not_in_handover"},
		{"end of a session not in handover", "/" + token + "/sessions/nobody/end", nil, 409, "not_in_handover"},
		{"end of a session the user ended", "/" + token + "/sessions/s-ended/end", nil, 409, "not_in_handover"},
		{"message to an unknown URL token", "/" + strings.Repeat("0", 64), msg(`"text":"hi"`), 404, "unknown_endpoint"},
		{"handover to an unknown URL token", "/" + strings.Repeat("0", 64) + "/handover", []byte(`{"userId":"u1","sessionId":"s7"}`), 404, "unknown_endpoint"},
		{"typing with a URL token one character off", "/" + token[:len(token)-1] + "x/sessions/s1/typing", nil, 404, "unknown_endpoint"},
		{"handover twice", "/" + token + "/handover", []byte(`{"userId":"u1","sessionId":"s1"}`), 409, "already_in_handover"},
		{"custom attribute that is a number", "/" + token + "/handover", []byte(`{"userId":"u3","sessionId":"s3","customAttributes":{"n":1}}`), 400, "invalid_custom_attributes"},
		{"custom attribute that is an object", "/" + token + "/handover", []byte(`{"userId":"u3","sessionId":"s3","customAttributes":{"o":{"k":"v"}}}`), 400, "invalid_custom_attributes"},
		{"custom attributes that are a list", "/" + token + "/handover", []byte(`{"userId":"u3","sessionId":"s3","customAttributes":["a"]}`), 400, "invalid_json"},
		{"custom attribute with an empty name", "/" + token + "/handover", []byte(`{"userId":"u3","sessionId":"s3","customAttributes":{" ":"v"}}`), 400, "invalid_custom_attributes"},
		{"unknown transcript source", "/" + token + "/handover", []byte(`{"userId":"u3","sessionId":"s3","transcript":[{"source":"agent","text":"hi"}]}`), 400, "invalid_transcript"},
		{"transcript time not RFC 3339", "/" + token + "/handover", []byte(`{"userId":"u3","sessionId":"s3","transcript":[{"source":"user","text":"hi","time":"yesterday"}]}`), 400, "invalid_transcript"},
		{"malformed JSON", "/" + token, []byte(`{"userId":"u1","sessionId":`), 400, "invalid_json"},
		{"two JSON objects", "/" + token, []byte(`{"userId":"u1"}{"sessionId":"s1"}`), 400, "invalid_json"},
		{"a JSON list", "/" + token + "/handover", []byte(`[]`), 400, "invalid_json"},
		{"an empty body", "/" + token, nil, 400, "invalid_json"},
		{"NUL in userId", "/" + token + "/handover", []byte(`{"userId":"u\u0000","sessionId":"s9"}`), 400, "nul_character"},
		{"NUL in text", "/" + token, msg(`"text":"hi\u0000"`), 400, "nul_character"},
		{"NUL in transcript text", "/" + token + "/handover", []byte(`{"userId":"u9","sessionId":"s9","transcript":[{"source":"user","text":"\u0000"}]}`), 400, "nul_character"},
		{"NUL in a custom attribute", "/" + token + "/handover", []byte(`{"userId":"u9","sessionId":"s9","customAttributes":{"tier":"\u0000"}}`), 400, "nul_character"},
		{"priority beyond int32", "/" + token + "/handover", []byte(`{"userId":"u9","sessionId":"s9","priority":2147483648}`), 400, "invalid_priority"},
		{"an attachment that is not a URL", "/" + token, msg(`"text":"x","data":{"attachments":[{"url":"file:///etc/passwd"}]}`), 400, "invalid_data"},
	}
	tables, db := []string{"conversations", "messages", "outbox"}, openDB(t, d.dbURL)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := tableCounts(t, db, tables...)
			status, header, out := inst.postRaw(c.path, c.body)
			errBody, _ := out["error"].(map[string]any)
			code, _ := errBody["code"].(string)
			message, _ := errBody["message"].(string)
			if status != c.status || code != c.code || message == "" {
				t.Fatalf("answer %d %v, want %d with code %q and a message", status, out, c.status, c.code)
			}
			if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("Content-Type %q", ct)
			}
			if after := tableCounts(t, db, tables...); !mapsEqual(before, after) {
				t.Fatalf("a refused request wrote rows: before %v, after %v", before, after)
			}
		})
	}

	// Exactly 4,000 characters is allowed.
	if status, out := inst.post("/"+token, map[string]any{"userId": "u1", "sessionId": "s1", "text": strings.Repeat("b", 4000)}); status != http.StatusAccepted {
		t.Fatalf("4,000 characters: %d %v", status, out)
	}
	// After the user ended, a message goes to the bot again.
	status, out := inst.post("/"+token, map[string]any{"userId": "u2", "sessionId": "s-ended", "text": "what are your opening hours?"})
	outputs, _ := out["outputs"].([]any)
	if status != http.StatusOK || len(outputs) == 0 || out["handover"] != nil {
		t.Fatalf("message after the user ended: %d %v, want 200 with the bot's outputs", status, out)
	}
	assertAlive(t, inst)
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
