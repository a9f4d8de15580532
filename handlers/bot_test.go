package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// botPost sends a body as is to the bot API and decodes the JSON answer.
func (a *testApp) botPost(path, body string) (int, map[string]any) {
	a.t.Helper()
	resp := a.request(http.MethodPost, path, strings.NewReader(body), map[string]string{"Content-Type": "application/json"})
	var out map[string]any
	if raw := readBody(a.t, resp); raw != "" {
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			a.t.Fatalf("POST %s: answer %d is not JSON: %s", path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out
}

// goWords are what a message must not show: Go's names for the types the
// body was decoded into.
var goWords = []string{"Go ", "of type", "handoverBody", "messageBody", "endpointRequest", "int", "interface", "map["}

func TestBotRequestsWithNULsBadNumbersOrWrongTypesGetAFourHundredNamingTheField(t *testing.T) {
	a := newTestApp(t, nil)
	e := a.consoleEndpoint("bot")
	handover, message := "/"+e.URLToken+"/handover", "/"+e.URLToken
	cases := []struct {
		name, path, body, code, message string
	}{
		{"NUL in userId", handover, `{"userId":"u\u0000","sessionId":"s1"}`, "nul_character", "userId contains a NUL character"},
		{"NUL in sessionId", handover, `{"userId":"u1","sessionId":"s\u00001"}`, "nul_character", "sessionId contains a NUL character"},
		{"NUL in a message's sessionId", message, `{"userId":"u1","sessionId":"\u0000","text":"hi"}`, "nul_character", "sessionId contains"},
		{"NUL in text", message, `{"userId":"u1","sessionId":"s1","text":"hi\u0000"}`, "nul_character", "text contains"},
		{"NUL in a custom attribute", handover, `{"userId":"u1","sessionId":"s1","customAttributes":{"tier":"\u0000"}}`, "nul_character", "customAttributes.tier contains"},
		{"NUL in a custom attribute's name", handover, `{"userId":"u1","sessionId":"s1","customAttributes":{"t\u0000":"x"}}`, "nul_character", "A field name in customAttributes contains"},
		{"NUL in transcript text", handover, `{"userId":"u1","sessionId":"s1","transcript":[{"source":"user","text":"hi"},{"source":"bot","text":"\u0000"}]}`, "nul_character", "transcript[1].text contains"},
		{"NUL in a profile", handover, `{"userId":"u1","sessionId":"s1","profile":{"email":"a\u0000@example.com"}}`, "nul_character", "profile.email contains"},
		{"NUL in a quick reply", message, `{"userId":"u1","sessionId":"s1","data":{"quickReply":{"text":"\u0000","originatingMessageId":"m"}}}`, "nul_character", "data.quickReply.text contains"},
		{"priority beyond int32", handover, `{"userId":"u1","sessionId":"s1","priority":2147483648}`, "invalid_priority", "priority must be a whole number from -1000000 to 1000000"},
		{"priority far below zero", handover, `{"userId":"u1","sessionId":"s1","priority":-1000001}`, "invalid_priority", "priority must be a whole number from -1000000 to 1000000"},
		{"priority beyond int64", handover, `{"userId":"u1","sessionId":"s1","priority":1e40}`, "invalid_json", "priority must be a whole number; 1e40 is out of range."},
		{"priority with a fraction", handover, `{"userId":"u1","sessionId":"s1","priority":1.5}`, "invalid_json", "priority must be a whole number."},
		{"priority as a word", handover, `{"userId":"u1","sessionId":"s1","priority":"high"}`, "invalid_json", "priority must be a whole number."},
		{"text as a number", message, `{"userId":"u1","sessionId":"s1","text":5}`, "invalid_json", "text must be a string."},
		{"skills as a string", handover, `{"userId":"u1","sessionId":"s1","skills":"billing"}`, "invalid_json", "skills must be a list of strings."},
		{"a skill as a number", handover, `{"userId":"u1","sessionId":"s1","skills":[1]}`, "invalid_json", "skills must be a list of strings."},
		{"custom attributes as a list", handover, `{"userId":"u1","sessionId":"s1","customAttributes":["a"]}`, "invalid_json", "customAttributes must be an object."},
		{"a transcript as an object", handover, `{"userId":"u1","sessionId":"s1","transcript":{"text":"hi"}}`, "invalid_json", "transcript must be a list of objects."},
		{"a transcript text as a number", handover, `{"userId":"u1","sessionId":"s1","transcript":[{"source":"user","text":1}]}`, "invalid_json", "transcript.text must be a string."},
		{"a profile name as a number", handover, `{"userId":"u1","sessionId":"s1","profile":{"firstName":1}}`, "invalid_json", "profile.firstName must be a string."},
		{"a list for a body", handover, `[]`, "invalid_json", "The body must be a JSON object."},
		{"an empty body", message, ``, "invalid_json", "The body is empty"},
		{"a cut-off body", message, `{"userId":"u1","sessionId":`, "invalid_json", "The body ends before its JSON object does."},
		{"a syntax error", message, `{"userId" "u1"}`, "invalid_json", "The body is not valid JSON: invalid character"},
		{"a second object", message, `{"userId":"u1"}{"sessionId":"s1"}`, "invalid_json", "single JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, out := a.botPost(c.path, c.body)
			errBody, _ := out["error"].(map[string]any)
			code, _ := errBody["code"].(string)
			msg, _ := errBody["message"].(string)
			if status != http.StatusBadRequest || code != c.code || !strings.Contains(msg, c.message) {
				t.Fatalf("answer %d %q %q; want 400 %q with %q", status, code, msg, c.code, c.message)
			}
			for _, w := range goWords {
				if strings.Contains(msg, w) {
					t.Fatalf("the message %q shows Go's %q", msg, w)
				}
			}
		})
	}
}

func TestAnEscapedBackslashBeforeU0000IsNoNULCharacter(t *testing.T) {
	a := newTestApp(t, nil)
	e := a.consoleEndpoint("bot")
	// The text is the six characters \u0000, not U+0000.
	status, out := a.botPost("/"+e.URLToken, `{"userId":"u1","sessionId":"s1","text":"C:\\u0000"}`)
	if status != http.StatusOK || out["outputs"] == nil {
		t.Fatalf("answer %d %v; want the demo bot's 200", status, out)
	}
	status, out = a.botPost("/"+e.URLToken+"/handover", `{"userId":"u1","sessionId":"s1","priority":-5}`)
	if status != http.StatusAccepted {
		t.Fatalf("a handover with priority -5: %d %v; want 202", status, out)
	}
}

func TestAStreamForASessionWithNoHandoverIsOneShortAnswerThatAsksToComeBack(t *testing.T) {
	a := newTestApp(t, nil)
	e := a.consoleEndpoint("bot")
	// app.Test returns only once the answer is complete: a stream left open
	// runs into the bound and fails.
	resp, err := a.app.Test(httptest.NewRequest(http.MethodGet, "/"+e.URLToken+"/sessions/never-handed-over/events", nil), 5000)
	if err != nil {
		t.Fatalf("the stream for an unknown session did not end: %v", err)
	}
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") || !strings.HasPrefix(body, "retry: ") || strings.Contains(body, "event:") {
		t.Fatalf("answer %d %q: %q; want a short event-stream answer with retry: and no events", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}
