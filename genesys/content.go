package genesys

import (
	"cmp"
	"fmt"
	"strings"
)

// Content types of webhook content items: every value of
// ConversationMessageContent.contentType in the Platform API SDKs
// (docs/genesys.md §Structured). Open Messaging bot flows send QuickReply,
// Card, Carousel and the pickers; agents send Attachment; Text, Location and
// the rest are listed so that the relay can name what it does not render.
const (
	ContentTypeAttachment             = "Attachment"
	ContentTypeQuickReply             = "QuickReply"
	ContentTypeQuickReplyV2           = "QuickReplyV2"
	ContentTypeButtonResponse         = "ButtonResponse"
	ContentTypeCard                   = "Card"
	ContentTypeCarousel               = "Carousel"
	ContentTypeText                   = "Text"
	ContentTypeDatePicker             = "DatePicker"
	ContentTypeListPicker             = "ListPicker"
	ContentTypeLocation               = "Location"
	ContentTypeStory                  = "Story"
	ContentTypeMention                = "Mention"
	ContentTypeReactions              = "Reactions"
	ContentTypeNotification           = "Notification" // a template, in the template field
	ContentTypeInteractiveApplication = "InteractiveApplication"
	ContentTypePaymentRequest         = "PaymentRequest"
	ContentTypePaymentResponse        = "PaymentResponse"
	ContentTypePush                   = "Push"
	ContentTypeForm                   = "Form"
	ContentTypeRoadsideAssistance     = "RoadsideAssistance"
	ContentTypeRichLink               = "RichLink"
	ContentTypeNotificationResponse   = "NotificationResponse"
	ContentTypeUnknown                = "Unknown"

	// CardActionLink opens URL; CardActionPostback sends Text and Payload
	// back as a ButtonResponse of type Button.
	CardActionLink     = "Link"
	CardActionPostback = "Postback"

	QuickReplyActionMessage = "Message" // the only quick-reply action
)

// Content is one content item of a message Genesys produces
// (ConversationMessageContent; the Open Messaging model OpenMessageContent
// declares only Attachment). Which pointer is set follows ContentType. The
// JSON names are the SDK's; content kinds without a field here (templates,
// forms, payments, …) are ignored when parsed.
type Content struct {
	ContentType    string          `json:"contentType"`
	Attachment     *Attachment     `json:"attachment,omitempty"`
	QuickReply     *QuickReply     `json:"quickReply,omitempty"`
	QuickReplyV2   *QuickReplyV2   `json:"quickReplyV2,omitempty"`
	ButtonResponse *ButtonResponse `json:"buttonResponse,omitempty"`
	Card           *Card           `json:"card,omitempty"`
	Carousel       *Carousel       `json:"carousel,omitempty"`
	Text           *TextContent    `json:"text,omitempty"`
	DatePicker     *DatePicker     `json:"datePicker,omitempty"`
	ListPicker     *ListPicker     `json:"listPicker,omitempty"`
	Location       *Location       `json:"location,omitempty"`
}

// QuickReply is one quick-reply choice of a structured message
// (ConversationContentQuickReply). Text is shown and, once clicked, is also
// the response text; Payload goes back in the ButtonResponse.
type QuickReply struct {
	Text        string `json:"text"`
	Payload     string `json:"payload,omitempty"`
	Image       string `json:"image,omitempty"`
	Action      string `json:"action,omitempty"` // QuickReplyActionMessage
	SummaryText string `json:"summaryText,omitempty"`
}

// QuickReplyV2 is a titled set of quick replies in one content item
// (ConversationContentQuickReplyV2).
type QuickReplyV2 struct {
	Title   string       `json:"title"`
	Actions []QuickReply `json:"actions"`
}

// Card is a rich card (ConversationContentCard): a title, optional text and
// media, and buttons.
type Card struct {
	Title         string       `json:"title"`
	Description   string       `json:"description,omitempty"`
	Image         string       `json:"image,omitempty"`
	Video         string       `json:"video,omitempty"`
	DefaultAction *CardAction  `json:"defaultAction,omitempty"`
	Actions       []CardAction `json:"actions"`
}

// CardAction is one button of a card (ConversationContentCardAction).
type CardAction struct {
	Type    string `json:"type,omitempty"` // CardActionLink or CardActionPostback
	Text    string `json:"text,omitempty"`
	Payload string `json:"payload,omitempty"`
	URL     string `json:"url,omitempty"`
}

// Carousel is a row of cards (ConversationContentCarousel).
type Carousel struct {
	Cards []Card `json:"cards"`
}

// TextContent is a text content item (ConversationContentText). Type is
// deprecated and always "Text".
type TextContent struct {
	Type string `json:"type,omitempty"`
	Body string `json:"body"`
}

// DatePicker asks the customer for a date or one of AvailableTimes
// (ConversationContentDatePicker). The answer is a ButtonResponse of type
// DatePicker.
type DatePicker struct {
	ID                string           `json:"id,omitempty"`
	Title             string           `json:"title,omitempty"`
	Subtitle          string           `json:"subtitle,omitempty"`
	ImageURL          string           `json:"imageUrl,omitempty"`
	DateMinimum       Timestamp        `json:"dateMinimum,omitzero"`
	DateMaximum       Timestamp        `json:"dateMaximum,omitzero"`
	Location          *Location        `json:"location,omitempty"`
	AvailableTimes    []DatePickerTime `json:"availableTimes,omitempty"`
	DateDisplayFormat string           `json:"dateDisplayFormat,omitempty"` // dayMonthYear, monthDayYear or yearMonthDay
}

// DatePickerTime is one offered slot
// (ConversationContentDatePickerAvailableTime).
type DatePickerTime struct {
	DateTime Timestamp `json:"dateTime,omitzero"`
	Duration int       `json:"duration,omitempty"` // seconds
}

// ListPicker asks the customer to choose items from sections
// (ConversationContentListPicker). The answer is a ButtonResponse of type
// ListPicker.
type ListPicker struct {
	ID              string              `json:"id,omitempty"`
	Sections        []ListPickerSection `json:"sections,omitempty"`
	ReplyMessage    *ReplyMessage       `json:"replyMessage,omitempty"`
	ReceivedMessage *ReplyMessage       `json:"receivedMessage,omitempty"` // the prompt
}

// ListPickerSection is one titled group of a list picker
// (ConversationContentListPickerSection).
type ListPickerSection struct {
	Title             string           `json:"title,omitempty"`
	MultipleSelection bool             `json:"multipleSelection,omitempty"`
	Items             []ListPickerItem `json:"items,omitempty"`
}

// ListPickerItem is one choice of a list picker
// (ConversationContentListPickerItem).
type ListPickerItem struct {
	ID       string `json:"id,omitempty"`
	Title    string `json:"title,omitempty"`
	Subtitle string `json:"subtitle,omitempty"`
	ImageURL string `json:"imageUrl,omitempty"`
}

// ReplyMessage is the bubble shown before or after a picker
// (ConversationContentReceivedReplyMessage).
type ReplyMessage struct {
	Header      string `json:"header,omitempty"`
	Title       string `json:"title,omitempty"`
	Subtitle    string `json:"subtitle,omitempty"`
	ButtonLabel string `json:"buttonLabel,omitempty"`
	ImageURL    string `json:"imageUrl,omitempty"`
}

// Location is a place (ConversationContentLocation).
type Location struct {
	URL       string   `json:"url,omitempty"`
	Address   string   `json:"address,omitempty"`
	Text      string   `json:"text,omitempty"` // the place's name
	Latitude  *float64 `json:"latitude,omitempty"`
	Longitude *float64 `json:"longitude,omitempty"`
}

// FallbackText is the webhook as plain text, for a channel that cannot show
// structured content: the message text, then the fallback of each content
// item on its own line. Choices are listed as "- text" lines, so that a
// customer can answer by typing one. It is empty for receipts and events.
func (w Webhook) FallbackText() string {
	lines := make([]string, 0, 1+len(w.Content))
	if t := strings.TrimSpace(w.Text); t != "" {
		lines = append(lines, t)
	}
	for _, c := range w.Content {
		t := c.FallbackText()
		if c.ContentType == ContentTypeQuickReply && t != "" {
			t = "- " + t
		}
		// A Text item that repeats the message text adds nothing.
		if t != "" && !(c.Text != nil && t == strings.TrimSpace(w.Text)) {
			lines = append(lines, t)
		}
	}
	return strings.Join(lines, "\n")
}

// FallbackText is the item as plain text (docs/genesys.md §Structured): a
// card as its title, description and buttons, a picker as its prompt and
// choices, an attachment as its caption, name and URL. A single quick reply
// is its text. It is empty for kinds without a field in Content.
func (c Content) FallbackText() string {
	switch {
	case c.Attachment != nil:
		return c.Attachment.fallback()
	case c.QuickReply != nil:
		return strings.TrimSpace(c.QuickReply.Text)
	case c.QuickReplyV2 != nil:
		return c.QuickReplyV2.fallback()
	case c.ButtonResponse != nil:
		return strings.TrimSpace(c.ButtonResponse.Text)
	case c.Card != nil:
		return c.Card.fallback()
	case c.Carousel != nil:
		cards := make([]string, 0, len(c.Carousel.Cards))
		for _, card := range c.Carousel.Cards {
			if t := card.fallback(); t != "" {
				cards = append(cards, t)
			}
		}
		return strings.Join(cards, "\n\n")
	case c.Text != nil:
		return strings.TrimSpace(c.Text.Body)
	case c.DatePicker != nil:
		return c.DatePicker.fallback()
	case c.ListPicker != nil:
		return c.ListPicker.fallback()
	case c.Location != nil:
		return c.Location.fallback()
	}
	return ""
}

func (a Attachment) fallback() string {
	name := cmp.Or(strings.TrimSpace(a.Filename), a.MediaType)
	link := strings.TrimSpace(strings.Join(nonEmpty(name, a.URL), ": "))
	return strings.Join(nonEmpty(a.Text, link), "\n")
}

func (q QuickReplyV2) fallback() string {
	lines := nonEmpty(q.Title)
	for _, a := range q.Actions {
		lines = appendChoice(lines, a.Text)
	}
	return strings.Join(lines, "\n")
}

func (c Card) fallback() string {
	lines := nonEmpty(c.Title, c.Description)
	for _, a := range c.Actions {
		if a.Type == CardActionLink && a.URL != "" {
			lines = append(lines, "- "+strings.Join(nonEmpty(a.Text, a.URL), ": "))
			continue
		}
		lines = appendChoice(lines, a.Text)
	}
	return strings.Join(lines, "\n")
}

func (d DatePicker) fallback() string {
	lines := nonEmpty(d.Title, d.Subtitle)
	for _, slot := range d.AvailableTimes {
		if slot.DateTime.IsZero() {
			continue
		}
		choice := slot.DateTime.UTC().Format("2006-01-02 15:04 MST")
		if slot.Duration > 0 {
			choice += " (" + slotLength(slot.Duration) + ")"
		}
		lines = append(lines, "- "+choice)
	}
	if len(d.AvailableTimes) == 0 && (!d.DateMinimum.IsZero() || !d.DateMaximum.IsZero()) {
		const day = "2006-01-02"
		switch {
		case d.DateMinimum.IsZero():
			lines = append(lines, "until "+d.DateMaximum.UTC().Format(day))
		case d.DateMaximum.IsZero():
			lines = append(lines, "from "+d.DateMinimum.UTC().Format(day))
		default:
			lines = append(lines, d.DateMinimum.UTC().Format(day)+" to "+d.DateMaximum.UTC().Format(day))
		}
	}
	return strings.Join(lines, "\n")
}

func (l ListPicker) fallback() string {
	var lines []string
	if m := l.ReceivedMessage; m != nil {
		lines = nonEmpty(m.Header, m.Title, m.Subtitle)
	}
	for _, s := range l.Sections {
		lines = append(lines, nonEmpty(s.Title)...)
		for _, item := range s.Items {
			choice := strings.TrimSpace(item.Title)
			if sub := strings.TrimSpace(item.Subtitle); sub != "" {
				choice = strings.TrimSpace(choice + " (" + sub + ")")
			}
			lines = appendChoice(lines, choice)
		}
	}
	return strings.Join(lines, "\n")
}

func (l Location) fallback() string {
	parts := nonEmpty(l.Text, l.Address)
	if len(parts) == 0 && l.Latitude != nil && l.Longitude != nil {
		parts = append(parts, fmt.Sprintf("%g, %g", *l.Latitude, *l.Longitude))
	}
	return strings.Join(append(parts, nonEmpty(l.URL)...), "\n")
}

// appendChoice adds "- text" when text is not blank.
func appendChoice(lines []string, text string) []string {
	if t := strings.TrimSpace(text); t != "" {
		return append(lines, "- "+t)
	}
	return lines
}

// nonEmpty is its arguments, trimmed, without the blank ones.
func nonEmpty(s ...string) []string {
	out := make([]string, 0, len(s))
	for _, v := range s {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// slotLength says how long a date-picker slot of seconds lasts.
func slotLength(seconds int) string {
	switch {
	case seconds%3600 == 0:
		return fmt.Sprintf("%d h", seconds/3600)
	case seconds%60 == 0:
		return fmt.Sprintf("%d min", seconds/60)
	}
	return fmt.Sprintf("%d s", seconds)
}
