package genesys

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

const specPath = "testdata/genesys-openapi-open-messaging.json"

// sharedSpec loads the spec once for the whole test binary: a Spec is
// read-only, and converting it for each fake server slows the race build.
var sharedSpec = sync.OnceValues(func() (*Spec, error) { return LoadSpec(specPath) })

func loadTestSpec(t testing.TB) *Spec {
	t.Helper()
	spec, err := sharedSpec()
	if err != nil {
		t.Fatalf("LoadSpec: %v", err)
	}
	return spec
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %T: %v", v, err)
	}
	return data
}

var exampleTime = TimestampOf(time.Date(2025, 1, 15, 10, 21, 33, 123e6, time.UTC))

// exampleCustomer is the customer of the reference examples.
var exampleCustomer = Recipient{
	ID: "relay-7f3c2a10-5b6e-4d0a-9c1b-2f3e4d5a6b7c", IDType: IDTypeOpaque,
	Nickname: "Jane Doe", FirstName: "Jane", LastName: "Doe", Email: "jane.doe@example.com",
}

func exampleMessage() InboundMessage {
	return InboundMessage{
		Channel: InboundChannel{
			MessageID: "bot-7f3c2a10-0001",
			From:      exampleCustomer,
			Time:      exampleTime,
			Metadata: &ChannelMetadata{CustomAttributes: map[string]string{
				"botSessionId": "7f3c2a10", "language": "de-DE", "skill": "billing", "priority": "5",
			}},
		},
		Text: "I want to talk to a human about my invoice.",
	}
}

func TestBodiesTheClientSendsMatchTheGenesysSchemas(t *testing.T) {
	spec := loadTestSpec(t)
	withAttachment := exampleMessage()
	withAttachment.Channel.Metadata = nil
	withAttachment.Text = "Here is a screenshot."
	withAttachment.Content = []InboundContent{{Attachment: &Attachment{
		MediaType: MediaTypeImage, URL: "https://files.example.com/u/7f3c2a10/screenshot.png",
		Mime: "image/png", Filename: "screenshot.png",
	}}}
	attachmentOnly := withAttachment
	attachmentOnly.Text = ""

	tests := []struct {
		name   string
		schema string
		body   any
	}{
		{"message with custom attributes", "OpenInboundNormalizedMessage", exampleMessage()},
		{"message with an attachment", "OpenInboundNormalizedMessage", withAttachment},
		{"attachment without text", "OpenInboundNormalizedMessage", attachmentOnly},
		{"typing event", "OpenInboundNormalizedEvent", InboundEvent{
			Channel: InboundEventChannel{From: Recipient{ID: exampleCustomer.ID, IDType: IDTypeOpaque}, Time: exampleTime},
			Events:  []Event{{EventType: EventTypeTyping}},
		}},
		{"delivered receipt", "OpenInboundNormalizedReceipt", InboundReceipt{
			ID:             "9b8a7c6d5e4f43218a7b6c5d4e3f2a1b",
			Channel:        ReceiptChannel{To: Recipient{ID: exampleCustomer.ID, IDType: IDTypeOpaque}, Time: exampleTime},
			Status:         ReceiptDelivered,
			IsFinalReceipt: true,
		}},
		{"failed receipt with a reason", "OpenInboundNormalizedReceipt", InboundReceipt{
			ID:             "9b8a7c6d5e4f43218a7b6c5d4e3f2a1b",
			Channel:        ReceiptChannel{To: Recipient{ID: exampleCustomer.ID}, Time: exampleTime},
			Status:         ReceiptFailed,
			Reasons:        []Reason{{Code: ReasonGeneralError, Message: "end user session closed before delivery"}},
			IsFinalReceipt: true,
		}},
		{"structured response", "OpenInboundStructuredResponseMessage", InboundStructuredResponse{
			Channel:              InboundChannel{MessageID: "bot-7f3c2a10-0007", From: Recipient{ID: exampleCustomer.ID, IDType: IDTypeOpaque}, Time: exampleTime},
			ButtonResponse:       ButtonResponse{Type: ButtonTypeQuickReply, Text: "Yes", Payload: "YES"},
			OriginatingMessageID: "0d9c8b7a6f5e44d3a2b1c0d9e8f7a6b5",
		}},
		{"participant disconnect", "MediaParticipantRequest", participantStateRequest{State: ParticipantStateDisconnected}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := mustJSON(t, tt.body)
			if err := spec.ValidateRequestBody(tt.schema, body); err != nil {
				t.Errorf("%s\n%s", err, body)
			}
		})
	}
}

func TestSchemaValidationRejectsWhatGenesysRejects(t *testing.T) {
	spec := loadTestSpec(t)
	tests := []struct {
		name     string
		schema   string
		body     string
		mentions string
	}{
		{"message without channel.from", "OpenInboundNormalizedMessage",
			`{"channel":{"time":"2025-01-15T10:21:33.123Z"},"text":"hi"}`, "from"},
		{"message without channel.time", "OpenInboundNormalizedMessage",
			string(mustJSON(t, InboundMessage{Channel: InboundChannel{From: exampleCustomer}, Text: "hi"})), "time"},
		{"message without channel", "OpenInboundNormalizedMessage", `{"text":"hi"}`, "channel"},
		{"message with neither text nor content", "OpenInboundNormalizedMessage",
			`{"channel":{"from":{"id":"c","idType":"Opaque"},"time":"2025-01-15T10:21:33.123Z"}}`, "'text' or 'content'"},
		{"time that is not ISO-8601", "OpenInboundNormalizedMessage",
			`{"channel":{"from":{"id":"c","idType":"Opaque"},"time":"15.01.2025 10:21"},"text":"hi"}`, "date-time"},
		{"idType in the wrong case", "OpenInboundNormalizedMessage",
			`{"channel":{"from":{"id":"c","idType":"opaque"},"time":"2025-01-15T10:21:33.123Z"},"text":"hi"}`, "idType"},
		{"from without idType", "OpenInboundNormalizedMessage",
			`{"channel":{"from":{"id":"c"},"time":"2025-01-15T10:21:33.123Z"},"text":"hi"}`, "idType"},
		{"attachment without mime", "OpenInboundNormalizedMessage",
			`{"channel":{"from":{"id":"c","idType":"Opaque"},"time":"2025-01-15T10:21:33.123Z"},"content":[{"attachment":{"mediaType":"Image","url":"https://x/y.png"}}]}`, "mime"},
		{"event other than typing", "OpenInboundNormalizedEvent",
			`{"channel":{"from":{"id":"c","idType":"Opaque"},"time":"2025-01-15T10:23:00.000Z"},"events":[{"eventType":"Presence"}]}`, "eventType"},
		{"event without events", "OpenInboundNormalizedEvent",
			`{"channel":{"from":{"id":"c","idType":"Opaque"},"time":"2025-01-15T10:23:00.000Z"}}`, "events"},
		{"receipt with status Read", "OpenInboundNormalizedReceipt",
			`{"id":"m","channel":{"to":{"id":"c"},"time":"2025-01-15T10:24:10.000Z"},"status":"Read"}`, "status"},
		{"receipt without id", "OpenInboundNormalizedReceipt",
			`{"channel":{"to":{"id":"c"},"time":"2025-01-15T10:24:10.000Z"},"status":"Delivered"}`, "id"},
		{"button response without payload", "OpenInboundStructuredResponseMessage",
			`{"channel":{"from":{"id":"c","idType":"Opaque"},"time":"2025-01-15T10:25:00.000Z"},"buttonResponse":{"type":"QuickReply","text":"Yes"},"originatingMessageId":"m"}`, "payload"},
		{"not JSON", "OpenInboundNormalizedMessage", `{"channel":`, "not JSON"},
		{"unknown schema", "NoSuchThing", `{}`, "NoSuchThing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := spec.ValidateRequestBody(tt.schema, []byte(tt.body))
			if err == nil {
				t.Fatalf("accepted %s", tt.body)
			}
			if !strings.Contains(err.Error(), tt.mentions) {
				t.Errorf("error %q should mention %q", err, tt.mentions)
			}
		})
	}
}

func TestReferenceWebhookExamplesMatchTheNormalizedMessageSchemas(t *testing.T) {
	spec := loadTestSpec(t)
	examples := readWebhookExamples(t)
	tests := []struct{ file, schema string }{
		{"webhook-text", "OpenNormalizedMessage"},
		{"webhook-attachment", "OpenNormalizedMessage"},
		{"webhook-typing", "OpenEventNormalizedMessage"},
		{"webhook-receipt", "OpenReceiptNormalizedMessage"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			if err := spec.ValidateResponseBody(tt.schema, examples[tt.file]); err != nil {
				t.Errorf("reference example: %v", err)
			}
			// What we parse and write back must still be valid, because the
			// fake Genesys will build its webhooks from these types.
			w, err := ParseWebhook(examples[tt.file])
			if err != nil {
				t.Fatal(err)
			}
			if err := spec.ValidateResponseBody(tt.schema, mustJSON(t, w)); err != nil {
				t.Errorf("re-encoded: %v", err)
			}
		})
	}
}

func TestLoadSpecNamesTheFileItCannotRead(t *testing.T) {
	_, err := LoadSpec("testdata/does-not-exist.json")
	if err == nil || !strings.Contains(err.Error(), "does-not-exist.json") {
		t.Fatalf("LoadSpec error = %v", err)
	}
	if _, err := os.Stat(specPath); err != nil {
		t.Fatalf("the spec copy is missing: %v", err)
	}
}

func TestSandboxEmbedsTheSameSpecTheTestsUse(t *testing.T) {
	test, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	sandbox, err := os.ReadFile("sandbox/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(test, sandbox) {
		t.Errorf("%s and sandbox/openapi.json differ: change both together", specPath)
	}
}

func TestEveryWebhookExampleMatchesTheOutboundWebhookSchema(t *testing.T) {
	spec := loadTestSpec(t)
	for file, body := range readWebhookExamples(t) {
		t.Run(file, func(t *testing.T) {
			if err := spec.ValidateResponseBody("OpenOutboundNormalizedMessage", body); err != nil {
				t.Errorf("example: %v", err)
			}
			w, err := ParseWebhook(body)
			if err != nil {
				t.Fatal(err)
			}
			if err := spec.ValidateResponseBody("OpenOutboundNormalizedMessage", mustJSON(t, w)); err != nil {
				t.Errorf("re-encoded: %v\n%s", err, mustJSON(t, w))
			}
		})
	}
}

func TestOutboundWebhookSchemaRejectsWhatGenesysDoesNotSend(t *testing.T) {
	spec := loadTestSpec(t)
	const channel = `"channel":{"id":"i","to":{"id":"c"},"from":{"id":"i","idType":"Opaque"},"time":"2025-01-15T10:24:05.512Z"}`
	tests := []struct {
		name     string
		body     string
		mentions string
	}{
		{"originatingEntity other than Human or Bot", `{"id":"m",` + channel + `,"type":"Text","text":"hi","originatingEntity":"Robot"}`, "originatingEntity"},
		{"receipt status Seen", `{"id":"m",` + channel + `,"type":"Receipt","status":"Seen"}`, "status"},
		{"unknown content type", `{"id":"m",` + channel + `,"type":"Structured","content":[{"contentType":"Hologram"}]}`, "contentType"},
		{"card without a title", `{"id":"m",` + channel + `,"type":"Structured","content":[{"contentType":"Card","card":{"actions":[]}}]}`, "title"},
		{"carousel without cards", `{"id":"m",` + channel + `,"type":"Structured","content":[{"contentType":"Carousel","carousel":{}}]}`, "cards"},
		{"card action of an unknown type", `{"id":"m",` + channel + `,"type":"Structured","content":[{"contentType":"Card","card":{"title":"t","actions":[{"type":"Call","text":"x"}]}}]}`, "type"},
		{"button response of an unknown type", `{"id":"m",` + channel + `,"type":"Structured","content":[{"contentType":"ButtonResponse","buttonResponse":{"type":"Swipe","text":"x","payload":"x"}}]}`, "type"},
		{"date picker time that is not a time", `{"id":"m",` + channel + `,"type":"Structured","content":[{"contentType":"DatePicker","datePicker":{"dateMinimum":"tomorrow"}}]}`, "date-time"},
		{"message type Presence", `{"id":"m",` + channel + `,"type":"Presence"}`, "type"},
		{"webhook without id", `{` + channel + `,"type":"Text","text":"hi"}`, "id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := spec.ValidateResponseBody("OpenOutboundNormalizedMessage", []byte(tt.body))
			if err == nil {
				t.Fatalf("accepted %s", tt.body)
			}
			if !strings.Contains(err.Error(), tt.mentions) {
				t.Errorf("error %q should mention %q", err, tt.mentions)
			}
		})
	}
}

func TestEventBridgeExampleMatchesTheEnvelopeAndItsTopicModel(t *testing.T) {
	spec := loadTestSpec(t)
	body, err := os.ReadFile("testdata/eventbridge-customer-end.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.ValidateResponseBody("EventBridgeEvent", body); err != nil {
		t.Fatalf("envelope: %v", err)
	}
	var event struct {
		Detail struct {
			EventBody json.RawMessage `json:"eventBody"`
		} `json:"detail"`
	}
	if err := json.Unmarshal(body, &event); err != nil {
		t.Fatal(err)
	}
	if err := spec.ValidateResponseBody("CustomerEndDetailEventTopicCustomerEndEvent", event.Detail.EventBody); err != nil {
		t.Errorf("eventBody: %v", err)
	}
	if err := spec.ValidateResponseBody("EventBridgeEvent", []byte(`{"id":"e","detail-type":"t","source":"s","detail":{"topicName":"t"}}`)); err == nil {
		t.Error("accepted a detail without eventBody")
	}
}

func TestSpecDefinesTheStructuredContentAndSupportedContentModels(t *testing.T) {
	spec := loadTestSpec(t)
	for _, name := range []string{
		"OpenOutboundNormalizedMessage", "ConversationMessageContent", "ConversationContentQuickReply", "ConversationContentQuickReplyV2",
		"ConversationContentButtonResponse", "ConversationContentCard", "ConversationContentCardAction", "ConversationContentCarousel",
		"ConversationContentText", "ConversationContentDatePicker", "ConversationContentDatePickerAvailableTime", "ConversationContentLocation",
		"ConversationContentListPicker", "ConversationContentListPickerSection", "ConversationContentListPickerItem",
		"ConversationContentReceivedReplyMessage", "ConversationContentStory",
		"SupportedContent", "MediaTypes", "MediaTypeAccess", "MediaType", "EventBridgeEvent", "EventBridgeEventDetail",
	} {
		if !spec.HasSchema(name) {
			t.Errorf("the spec has no definition %s", name)
		}
	}
	profile := `{"id":"p","name":"Default","mediaTypes":{"allow":{"inbound":[{"type":"*/*"}],"outbound":[{"type":"image/jpeg"},{"type":"image/png"},{"type":"image/gif"}]}}}`
	if err := spec.ValidateResponseBody("SupportedContent", []byte(profile)); err != nil {
		t.Errorf("supported content profile: %v", err)
	}
}
