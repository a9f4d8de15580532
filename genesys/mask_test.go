package genesys_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/handover-relay/handover/genesys"
)

func TestMaskBodyHidesWhatPeopleWroteAndWhoTheCustomerIsButKeepsWhatHappened(t *testing.T) {
	cases := []struct {
		name   string
		body   string
		hidden []string
		kept   []string
	}{
		{"an agent's structured webhook",
			`{"id":"gm-1","channel":{"id":"integ-1","platform":"Open","type":"Private","messageId":"gm-1","to":{"id":"hov-customer-9"},"from":{"nickname":"Max Agent","id":"a1","idType":"Opaque"},"time":"2026-01-02T03:04:05.000Z"},"type":"Structured","text":"Your card 4111 is blocked","content":[{"contentType":"QuickReply","quickReply":{"text":"Unblock it","payload":"unblock-4111","action":"Message"}},{"contentType":"Attachment","attachment":{"mediaType":"Image","url":"https://files.example/scan-of-passport.png","filename":"passport.png"}}],"direction":"Outbound","metadata":{"customAttributes":{"iban":"DE89 3704"}}}`,
			[]string{"card 4111", "Unblock it", "unblock-4111", "passport", "DE89", "hov-customer-9"},
			[]string{`"gm-1"`, `"integ-1"`, `"Structured"`, `"Outbound"`, `"QuickReply"`, `"2026-01-02T03:04:05.000Z"`, `"Max Agent"`}},
		{"a message Handover sends",
			`{"channel":{"messageId":"hov-1","from":{"id":"hov-customer-9","idType":"Opaque","firstName":"Jane","lastName":"Doe","email":"jane@example.com"},"time":"2026-01-02T03:04:05.000Z","metadata":{"customAttributes":{"userId":"bot-user-77"}}},"text":"my address is 1 Main St","direction":"Inbound"}`,
			[]string{"Jane", "Doe", "jane@", "bot-user-77", "Main St", "hov-customer-9"},
			[]string{`"hov-1"`, `"Opaque"`, `"Inbound"`}},
		{"a receipt", `{"id":"gm-2","channel":{"to":{"id":"hov-customer-9"}},"type":"Receipt","status":"Failed","reasons":[{"code":"MessageExpired","message":"expired"}],"isFinalReceipt":true}`,
			[]string{"hov-customer-9"}, []string{`"Failed"`, `"MessageExpired"`, `true`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := string(genesys.MaskBody([]byte(c.body)))
			if !json.Valid([]byte(out)) {
				t.Fatalf("not JSON: %s", out)
			}
			for _, h := range c.hidden {
				if strings.Contains(out, h) {
					t.Errorf("%q is still in %s", h, out)
				}
			}
			for _, k := range c.kept {
				if !strings.Contains(out, k) {
					t.Errorf("%s was lost from %s", k, out)
				}
			}
		})
	}
	if got := string(genesys.MaskBody([]byte("secret, not JSON"))); got != genesys.Masked {
		t.Errorf("a body that is not JSON: %q", got)
	}
}
