package genesys

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The known answers below were computed with openssl, not with this package:
//
//	printf '%s' "$body" | openssl dgst -sha256 -hmac "$secret" -binary | base64
const (
	exampleSecret = "relay-webhook-secret-7f3c2a10"
	// exampleBody is the agent text message of docs/genesys.md §Webhook, compact.
	exampleBody           = `{"id":"9b8a7c6d5e4f43218a7b6c5d4e3f2a1b","channel":{"id":"8a2b4c6d-1e3f-4a5b-8c7d-9e0f1a2b3c4d","platform":"Open","type":"Private","messageId":"9b8a7c6d5e4f43218a7b6c5d4e3f2a1b","to":{"id":"relay-7f3c2a10-5b6e-4d0a-9c1b-2f3e4d5a6b7c"},"from":{"nickname":"Max Agent","id":"8a2b4c6d-1e3f-4a5b-8c7d-9e0f1a2b3c4d","idType":"Opaque"},"time":"2025-01-15T10:24:05.512Z"},"type":"Text","text":"Hi Jane, I can help with your invoice.","originatingEntity":"Human","direction":"Outbound"}`
	exampleSignature      = "sha256=neC8lyp9jhXcFXuXitqUVnpYYCCHF2iCd5AtHz04z/Y="
	exampleHexSignature   = "sha256=9de0bc972a7d8e15dc157b978ada94567a5860208717688277902d1f3d38cff6"
	emptyBodySignature    = "sha256=VPORu3BFhKrwbYKWiUOR2I50oRx2sWEHx8kEMKbugmA="
	exampleBodyDigestOnly = "neC8lyp9jhXcFXuXitqUVnpYYCCHF2iCd5AtHz04z/Y="
)

func TestSignMatchesOpensslForTheReferenceExample(t *testing.T) {
	if got := Sign(exampleSecret, []byte(exampleBody)); got != exampleSignature {
		t.Errorf("Sign = %q, want %q", got, exampleSignature)
	}
	if got := Sign(exampleSecret, nil); got != emptyBodySignature {
		t.Errorf("Sign of empty body = %q, want %q", got, emptyBodySignature)
	}
}

func TestVerifySignatureAcceptsOnlyTheExactBodyAndSecret(t *testing.T) {
	oneByteChanged := strings.Replace(exampleBody, "invoice", "Invoice", 1)
	tests := []struct {
		name   string
		secret string
		body   string
		header string
		want   error
	}{
		{"genuine signature", exampleSecret, exampleBody, exampleSignature, nil},
		{"surrounding whitespace is tolerated", exampleSecret, exampleBody, " " + exampleSignature + " ", nil},
		{"empty body with its own signature", exampleSecret, "", emptyBodySignature, nil},
		{"missing header", exampleSecret, exampleBody, "", ErrSignatureMissing},
		{"blank header", exampleSecret, exampleBody, "   ", ErrSignatureMissing},
		{"digest without the sha256= prefix", exampleSecret, exampleBody, exampleBodyDigestOnly, ErrSignatureFormat},
		{"sha1 prefix", exampleSecret, exampleBody, "sha1=" + exampleBodyDigestOnly, ErrSignatureFormat},
		{"upper-case prefix", exampleSecret, exampleBody, "SHA256=" + exampleBodyDigestOnly, ErrSignatureFormat},
		{"hex instead of base64", exampleSecret, exampleBody, exampleHexSignature, ErrSignatureFormat},
		{"unpadded base64", exampleSecret, exampleBody, strings.TrimRight(exampleSignature, "="), ErrSignatureFormat},
		{"base64 of a short digest", exampleSecret, exampleBody, "sha256=AAAA", ErrSignatureFormat},
		{"wrong secret", "another-secret-of-sufficient-length", exampleBody, exampleSignature, ErrSignatureMismatch},
		{"body changed by one byte", exampleSecret, oneByteChanged, exampleSignature, ErrSignatureMismatch},
		{"body with a trailing newline", exampleSecret, exampleBody + "\n", exampleSignature, ErrSignatureMismatch},
		{"empty body with the example's signature", exampleSecret, "", exampleSignature, ErrSignatureMismatch},
		{"no secret configured", "", exampleBody, exampleSignature, ErrSecretEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifySignature(tt.secret, []byte(tt.body), tt.header)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("VerifySignature = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifySignature = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifySignatureExplainsAHexDigest(t *testing.T) {
	err := VerifySignature(exampleSecret, []byte(exampleBody), exampleHexSignature)
	if err == nil || !strings.Contains(err.Error(), "hex") {
		t.Fatalf("error %v should say the digest is hex", err)
	}
}

func readWebhookExamples(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob("testdata/webhook-*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no webhook examples in testdata: %v", err)
	}
	examples := make(map[string][]byte, len(paths))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		examples[strings.TrimSuffix(filepath.Base(p), ".json")] = data
	}
	return examples
}

func TestParseWebhookReadsEveryReferenceExample(t *testing.T) {
	examples := readWebhookExamples(t)
	tests := []struct {
		file  string
		check func(t *testing.T, w Webhook)
	}{
		{"webhook-text", func(t *testing.T, w Webhook) {
			want := Webhook{
				ID: "9b8a7c6d5e4f43218a7b6c5d4e3f2a1b",
				Channel: Channel{
					ID: "8a2b4c6d-1e3f-4a5b-8c7d-9e0f1a2b3c4d", Platform: "Open", Type: "Private",
					MessageID: "9b8a7c6d5e4f43218a7b6c5d4e3f2a1b",
					To:        Recipient{ID: "relay-7f3c2a10-5b6e-4d0a-9c1b-2f3e4d5a6b7c"},
					From:      Recipient{Nickname: "Max Agent", ID: "8a2b4c6d-1e3f-4a5b-8c7d-9e0f1a2b3c4d", IDType: IDTypeOpaque},
					Time:      TimestampOf(time.Date(2025, 1, 15, 10, 24, 5, 512e6, time.UTC)),
				},
				Type:              MessageTypeText,
				Text:              "Hi Jane, I can help with your invoice.",
				OriginatingEntity: "Human",
				Direction:         DirectionOutbound,
			}
			if !reflect.DeepEqual(w, want) {
				t.Errorf("got  %+v\nwant %+v", w, want)
			}
		}},
		{"webhook-attachment", func(t *testing.T, w Webhook) {
			if len(w.Content) != 1 || w.Content[0].ContentType != ContentTypeAttachment || w.Content[0].Attachment == nil {
				t.Fatalf("content = %+v, want one attachment", w.Content)
			}
			if a := w.Content[0].Attachment; a.Filename != "invoice-4711.pdf" || a.Mime != "application/pdf" || a.MediaType != MediaTypeFile {
				t.Errorf("attachment = %+v", a)
			}
		}},
		{"webhook-typing", func(t *testing.T, w Webhook) {
			if w.Type != MessageTypeEvent || len(w.Events) != 1 || w.Events[0].Typing == nil {
				t.Fatalf("events = %+v, want one typing event", w.Events)
			}
			if ty := w.Events[0].Typing; ty.Type != TypingOn || ty.Duration != 5000 {
				t.Errorf("typing = %+v, want On for 5000 ms", ty)
			}
		}},
		{"webhook-structured", func(t *testing.T, w Webhook) {
			if len(w.Content) != 2 || w.Content[1].QuickReply == nil || w.Content[1].QuickReply.Payload != "NO" {
				t.Errorf("content = %+v, want two quick replies", w.Content)
			}
		}},
		{"webhook-receipt", func(t *testing.T, w Webhook) {
			if w.Type != MessageTypeReceipt || w.Status != ReceiptDelivered || !w.IsFinalReceipt || w.Direction != DirectionInbound {
				t.Errorf("receipt = %+v", w)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body, ok := examples[tt.file]
			if !ok {
				t.Fatalf("testdata/%s.json is missing", tt.file)
			}
			w, err := ParseWebhook(body)
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			tt.check(t, w)
		})
	}
}

func TestParseWebhookRejectsWhatIsNotAnEnvelope(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		mentions string
	}{
		{"empty body", "", "not JSON"},
		{"plain text", "hello", "not JSON"},
		{"truncated JSON", `{"id":"x","channel":{"id":"y"`, "not JSON"},
		{"trailing garbage", `{"id":"x","channel":{"id":"y"},"type":"Text"} x`, "not JSON"},
		{"array", `[{"id":"x"}]`, "not a JSON object"},
		{"string", `"Text"`, "not a JSON object"},
		{"null", `null`, "missing id, channel.id, type"},
		{"empty object", `{}`, "missing id, channel.id, type"},
		{"no channel id", `{"id":"x","channel":{"to":{"id":"c"}},"type":"Text"}`, "missing channel.id"},
		{"no type", `{"id":"x","channel":{"id":"y"}}`, "missing type"},
		{"field of the wrong type", `{"id":"x","channel":{"id":"y"},"type":"Text","text":5}`, "text"},
		{"time that is not a time", `{"id":"x","channel":{"id":"y","time":"yesterday"},"type":"Text"}`, "yesterday"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseWebhook([]byte(tt.body))
			if !errors.Is(err, ErrMalformedWebhook) {
				t.Fatalf("ParseWebhook = %v, want ErrMalformedWebhook", err)
			}
			if !strings.Contains(err.Error(), tt.mentions) {
				t.Errorf("error %q should mention %q", err, tt.mentions)
			}
		})
	}
}

func TestParseWebhookIgnoresUnknownFieldsAndTypes(t *testing.T) {
	body := `{"id":"x","channel":{"id":"y","newChannelField":{"a":1}},"type":"Presence","futureField":[1,2,3],"text":"hi"}`
	w, err := ParseWebhook([]byte(body))
	if err != nil {
		t.Fatalf("ParseWebhook: %v", err)
	}
	if w.Type != "Presence" || w.Text != "hi" {
		t.Errorf("got %+v", w)
	}
}

func TestTimestampsAreWrittenInUTCWithMilliseconds(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2025, 1, 15, 10, 21, 33, 123456789, time.UTC), "2025-01-15T10:21:33.123Z"},
		{time.Date(2025, 1, 15, 10, 22, 5, 0, time.UTC), "2025-01-15T10:22:05.000Z"},
		{time.Date(2025, 1, 15, 11, 21, 33, 120e6, berlin), "2025-01-15T10:21:33.120Z"},
	}
	for _, tt := range tests {
		if got := FormatTime(tt.in); got != tt.want {
			t.Errorf("FormatTime(%v) = %q, want %q", tt.in, got, tt.want)
		}
		data, err := json.Marshal(TimestampOf(tt.in))
		if err != nil || string(data) != `"`+tt.want+`"` {
			t.Errorf("marshal %v = %s, %v; want %q", tt.in, data, err, tt.want)
		}
	}
}

func TestTimestampsAreReadInAnyRFC3339Form(t *testing.T) {
	want := time.Date(2025, 1, 15, 10, 21, 33, 0, time.UTC)
	for _, in := range []string{
		`"2025-01-15T10:21:33Z"`,
		`"2025-01-15T10:21:33.000Z"`,
		`"2025-01-15T11:21:33+01:00"`,
		`"2025-01-15T10:21:33"`,
	} {
		var ts Timestamp
		if err := json.Unmarshal([]byte(in), &ts); err != nil || !ts.Equal(want) {
			t.Errorf("unmarshal %s = %v, %v; want %v", in, ts, err, want)
		}
	}
	var ts Timestamp
	if err := json.Unmarshal([]byte(`null`), &ts); err != nil || !ts.IsZero() {
		t.Errorf("null should give the zero time, got %v, %v", ts, err)
	}
}

func TestZeroTimestampIsLeftOutOfJSON(t *testing.T) {
	data, err := json.Marshal(InboundEventChannel{From: Recipient{ID: "c", IDType: IDTypeOpaque}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "time") {
		t.Errorf("zero time should be omitted: %s", data)
	}
}

func FuzzParseWebhook(f *testing.F) {
	for _, body := range readWebhookExamples(f) {
		f.Add(body)
	}
	f.Add([]byte(exampleBody))
	f.Add([]byte(`{"id":"x","channel":{"id":"y","time":"2025-01-15T10:21:33+01:00"},"type":"Text"}`))
	f.Add([]byte(`{"id":"x","channel":{"id":"y"},"type":"Event","events":[{"eventType":"Typing"}]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := ParseWebhook(body)
		if err != nil {
			if !errors.Is(err, ErrMalformedWebhook) {
				t.Fatalf("error %v does not wrap ErrMalformedWebhook", err)
			}
			return
		}
		if w.ID == "" || w.Channel.ID == "" || w.Type == "" {
			t.Fatalf("accepted an envelope without id, channel.id or type: %+v", w)
		}
		// What was accepted survives a round trip through our own encoding
		// (a time whose year leaves 0–9999 in UTC cannot be written back).
		again, err := json.Marshal(w)
		if err != nil {
			return
		}
		w2, err := ParseWebhook(again)
		if err != nil {
			t.Fatalf("re-encoded webhook refused: %v\n%s", err, again)
		}
		if w2.ID != w.ID || w2.Channel.ID != w.Channel.ID || w2.Type != w.Type || w2.Text != w.Text {
			t.Fatalf("round trip changed the webhook:\n%+v\n%+v", w, w2)
		}
	})
}

func FuzzVerifySignature(f *testing.F) {
	f.Add(exampleSecret, []byte(exampleBody), exampleSignature)
	f.Add(exampleSecret, []byte(exampleBody), exampleHexSignature)
	f.Add(exampleSecret, []byte(""), emptyBodySignature)
	f.Add("", []byte(exampleBody), "")
	f.Add(exampleSecret, []byte(exampleBody), "sha256=")
	f.Fuzz(func(t *testing.T, secret string, body []byte, header string) {
		err := VerifySignature(secret, body, header)
		if secret == "" {
			if !errors.Is(err, ErrSecretEmpty) {
				t.Fatalf("empty secret gave %v", err)
			}
			return
		}
		if err == nil && strings.TrimSpace(header) != Sign(secret, body) {
			t.Fatalf("accepted %q, the signature is %q", header, Sign(secret, body))
		}
		if err != nil && !errors.Is(err, ErrSignatureMissing) && !errors.Is(err, ErrSignatureFormat) && !errors.Is(err, ErrSignatureMismatch) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if err := VerifySignature(secret, body, Sign(secret, body)); err != nil {
			t.Fatalf("own signature refused: %v", err)
		}
	})
}
