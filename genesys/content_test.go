package genesys

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestStructuredWebhooksParseIntoTheirContentTypes(t *testing.T) {
	examples := readWebhookExamples(t)
	tests := []struct {
		file  string
		check func(t *testing.T, w Webhook)
	}{
		{"webhook-bot-text", func(t *testing.T, w Webhook) {
			if w.Type != MessageTypeText || w.OriginatingEntity != OriginatingEntityBot || w.Channel.From.Nickname != "bot-relay-prod" {
				t.Errorf("got type %q, originatingEntity %q, from %+v; want a Bot text from the integration", w.Type, w.OriginatingEntity, w.Channel.From)
			}
		}},
		{"webhook-card", func(t *testing.T, w Webhook) {
			c := only(t, w, ContentTypeCard)
			want := &Card{
				Title: "Premium plan", Description: "Unlimited calls, support around the clock",
				Image:         "https://cdn.example.com/plans/premium.png",
				DefaultAction: &CardAction{Type: CardActionLink, URL: "https://example.com/plans/premium"},
				Actions: []CardAction{
					{Type: CardActionPostback, Text: "Choose Premium", Payload: "PLAN_PREMIUM"},
					{Type: CardActionLink, Text: "Details", URL: "https://example.com/plans/premium"},
				},
			}
			if !reflect.DeepEqual(c.Card, want) {
				t.Errorf("card = %+v\nwant   %+v", c.Card, want)
			}
		}},
		{"webhook-carousel", func(t *testing.T, w Webhook) {
			c := only(t, w, ContentTypeCarousel)
			if c.Carousel == nil || len(c.Carousel.Cards) != 2 || c.Carousel.Cards[1].Actions[1].URL != "https://example.com/plans" {
				t.Errorf("carousel = %+v, want two cards, the second with a Compare link", c.Carousel)
			}
		}},
		{"webhook-listpicker", func(t *testing.T, w Webhook) {
			c := only(t, w, ContentTypeListPicker)
			lp := c.ListPicker
			if lp == nil || lp.ID != "delivery-slot" || lp.ReceivedMessage == nil || lp.ReceivedMessage.ButtonLabel != "Choose" ||
				len(lp.Sections) != 2 || lp.Sections[0].Items[0] != (ListPickerItem{ID: "m1", Title: "08:00-10:00", Subtitle: "Standard"}) ||
				lp.Sections[1].Items[0].ImageURL != "https://cdn.example.com/van.png" {
				t.Errorf("list picker = %+v", lp)
			}
		}},
		{"webhook-datepicker", func(t *testing.T, w Webhook) {
			c := only(t, w, ContentTypeDatePicker)
			dp := c.DatePicker
			wantSlot := DatePickerTime{DateTime: TimestampOf(time.Date(2025, 1, 16, 14, 30, 0, 0, time.UTC)), Duration: 3600}
			if dp == nil || dp.ID != "callback-time" || !dp.DateMaximum.Equal(time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC)) ||
				len(dp.AvailableTimes) != 2 || !dp.AvailableTimes[1].DateTime.Equal(wantSlot.DateTime.Time) || dp.AvailableTimes[1].Duration != wantSlot.Duration ||
				dp.DateDisplayFormat != "dayMonthYear" {
				t.Errorf("date picker = %+v", dp)
			}
		}},
		{"webhook-receipt-failed", func(t *testing.T, w Webhook) {
			want := []Reason{{Code: ReasonMediaTypeNotAllowed, Message: "The media type image/heic is not allowed by the supported content profile."}}
			if w.Status != ReceiptFailed || !w.IsFinalReceipt || !reflect.DeepEqual(w.Reasons, want) {
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

// only returns the webhook's single content item, which must be of type ct.
func only(t *testing.T, w Webhook, ct string) Content {
	t.Helper()
	if w.Type != MessageTypeStructured || len(w.Content) != 1 || w.Content[0].ContentType != ct {
		t.Fatalf("type %q with content %+v, want one %s item", w.Type, w.Content, ct)
	}
	return w.Content[0]
}

func TestFallbackTextTurnsEveryWebhookIntoPlainText(t *testing.T) {
	examples := readWebhookExamples(t)
	tests := []struct {
		file string
		want string
	}{
		{"webhook-text", "Hi Jane, I can help with your invoice."},
		{"webhook-bot-text", "Thanks! Please wait while we find an agent for you."},
		{"webhook-attachment", "Here is the corrected invoice.\ninvoice-4711.pdf: <Genesys-hosted media URL>"},
		{"webhook-structured", "Did this solve your problem?\n- Yes\n- No"},
		{"webhook-card", "Which plan are you interested in?\nPremium plan\nUnlimited calls, support around the clock\n- Choose Premium\n- Details: https://example.com/plans/premium"},
		{"webhook-carousel", "Basic\nCalls on weekdays\n- Choose Basic\n\nPremium\n- Choose Premium\n- Compare: https://example.com/plans"},
		{"webhook-listpicker", "Pick a delivery slot\nOne slot per order\nMorning\n- 08:00-10:00 (Standard)\n- 10:00-12:00\nAfternoon\n- 14:00-16:00"},
		{"webhook-datepicker", "When should we call you?\nAll times in UTC\n- 2025-01-16 09:00 UTC (30 min)\n- 2025-01-16 14:30 UTC (1 h)"},
		{"webhook-typing", ""},
		{"webhook-receipt", ""},
		{"webhook-receipt-failed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			w, err := ParseWebhook(examples[tt.file])
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			if got := w.FallbackText(); got != tt.want {
				t.Errorf("FallbackText() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestFallbackTextOfSingleContentItems(t *testing.T) {
	lat, long := 52.52, 13.405
	tests := []struct {
		name string
		item string
		want string
	}{
		{"attachment with caption", `{"contentType":"Attachment","attachment":{"mediaType":"Image","url":"https://x/y.png","mime":"image/png","text":"The error"}}`,
			"The error\nImage: https://x/y.png"},
		{"one quick reply", `{"contentType":"QuickReply","quickReply":{"text":"Yes","payload":"YES","action":"Message","summaryText":"Confirms"}}`, "Yes"},
		{"quick reply v2", `{"contentType":"QuickReplyV2","quickReplyV2":{"title":"Rate us","actions":[{"text":"Good","payload":"5"},{"text":"Bad","payload":"1"}]}}`,
			"Rate us\n- Good\n- Bad"},
		{"button response", `{"contentType":"ButtonResponse","buttonResponse":{"originatingMessageId":"m","type":"ListPicker","text":"08:00-10:00","payload":"m1"}}`, "08:00-10:00"},
		{"text", `{"contentType":"Text","text":{"type":"Text","body":" Opening hours: 8-18 "}}`, "Opening hours: 8-18"},
		{"location with a name", `{"contentType":"Location","location":{"text":"Head office","address":"Main St 1, Berlin","url":"https://maps.example.com/?q=1"}}`,
			"Head office\nMain St 1, Berlin\nhttps://maps.example.com/?q=1"},
		{"location by coordinates", `{"contentType":"Location","location":{"latitude":52.52,"longitude":13.405}}`, "52.52, 13.405"},
		{"date picker with a range only", `{"contentType":"DatePicker","datePicker":{"title":"Pick a day","dateMinimum":"2025-02-01T00:00:00Z","dateMaximum":"2025-02-28T00:00:00Z"}}`,
			"Pick a day\n2025-02-01 to 2025-02-28"},
		{"date picker from a day", `{"contentType":"DatePicker","datePicker":{"dateMinimum":"2025-02-01T00:00:00Z"}}`, "from 2025-02-01"},
		{"date picker slot in seconds", `{"contentType":"DatePicker","datePicker":{"availableTimes":[{"dateTime":"2025-02-01T08:00:00Z","duration":90}]}}`,
			"- 2025-02-01 08:00 UTC (90 s)"},
		{"kind without a field", `{"contentType":"PaymentRequest","paymentRequest":{"paymentPlatform":"ApplePay"}}`, ""},
		{"unknown kind", `{"contentType":"Hologram","hologram":{}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Content
			if err := json.Unmarshal([]byte(tt.item), &c); err != nil {
				t.Fatal(err)
			}
			if got := c.FallbackText(); got != tt.want {
				t.Errorf("FallbackText() = %q, want %q", got, tt.want)
			}
		})
	}
	var loc Content
	if err := json.Unmarshal([]byte(tests[6].item), &loc); err != nil || loc.Location == nil ||
		loc.Location.Latitude == nil || *loc.Location.Latitude != lat || *loc.Location.Longitude != long {
		t.Errorf("coordinates = %+v, %v", loc.Location, err)
	}
}

func TestFallbackTextDoesNotRepeatATextItemThatIsTheMessageText(t *testing.T) {
	w := Webhook{Type: MessageTypeStructured, Text: "Choose one", Content: []Content{
		{ContentType: ContentTypeText, Text: &TextContent{Body: "Choose one"}},
		{ContentType: ContentTypeQuickReply, QuickReply: &QuickReply{Text: "A", Payload: "a"}},
		{ContentType: ContentTypeQuickReply, QuickReply: &QuickReply{Text: " ", Payload: "blank"}},
	}}
	if got, want := w.FallbackText(), "Choose one\n- A"; got != want {
		t.Errorf("FallbackText() = %q, want %q", got, want)
	}
}

func TestAnswerToAStructuredResponseCarriesTheButtonResponse(t *testing.T) {
	// OpenStructuredResponseNormalizedMessage, as Genesys answers
	// POST …/inbound/open/structured/response.
	body := `{"id":"e1f2a3b4c5d64e7f8a9b0c1d2e3f4a5b","channel":{"id":"8a2b4c6d-1e3f-4a5b-8c7d-9e0f1a2b3c4d","platform":"Open","type":"Private",
		"to":{"id":"8a2b4c6d-1e3f-4a5b-8c7d-9e0f1a2b3c4d"},"from":{"id":"relay-7f3c2a10-5b6e-4d0a-9c1b-2f3e4d5a6b7c","idType":"Opaque"},"time":"2025-01-15T10:25:00.000Z"},
		"type":"Structured","direction":"Inbound",
		"content":[{"contentType":"ButtonResponse","buttonResponse":{"type":"QuickReply","text":"Yes","payload":"YES"}}]}`
	var r MessageResponse
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	want := ButtonResponse{Type: ButtonTypeQuickReply, Text: "Yes", Payload: "YES"}
	if len(r.Content) != 1 || r.Content[0].ContentType != ContentTypeButtonResponse || r.Content[0].ButtonResponse == nil || *r.Content[0].ButtonResponse != want {
		t.Errorf("content = %+v, want the button response %+v", r.Content, want)
	}
}

func TestInboundButtonResponseLeavesOutTheWebhookOnlyOriginatingMessageID(t *testing.T) {
	data, err := json.Marshal(InboundStructuredResponse{
		Channel:              InboundChannel{From: Recipient{ID: "c", IDType: IDTypeOpaque}, Time: exampleTime},
		ButtonResponse:       ButtonResponse{Type: ButtonTypeDatePicker, Text: "16 Jan 09:00", Payload: "2025-01-16T09:00:00.000Z"},
		OriginatingMessageID: "7c8d9e0f1a2b43c4d5e6f708192a3b4c",
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "originatingMessageId"); n != 1 {
		t.Errorf("originatingMessageId appears %d times, want once (top level): %s", n, data)
	}
}
