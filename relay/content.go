package relay

import (
	"cmp"
	"strings"
	"time"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/store"
)

// messageContent turns what a Genesys message carries into what the bot and
// the timeline get: attachments, quick replies, cards (a carousel's too), a
// date picker and a list picker as structured data, and a text that is never
// empty when the message has content. When an item has no structured form
// here (a location, a text item, a kind Genesys added), the text is the whole
// message as plain text, so nothing the flow said is lost
// (docs/genesys.md §Structured).
func messageContent(h genesys.Webhook) (string, store.MessageData) {
	var data store.MessageData
	complete := true
	for _, c := range h.Content {
		switch {
		case c.Attachment != nil:
			a := c.Attachment
			data.Attachments = append(data.Attachments, store.Attachment{URL: a.URL, MediaType: a.MediaType, Mime: a.Mime, Filename: a.Filename, Text: a.Text})
		case c.QuickReply != nil:
			data.QuickReplies = append(data.QuickReplies, quickReply(*c.QuickReply))
		case c.QuickReplyV2 != nil:
			for _, q := range c.QuickReplyV2.Actions {
				data.QuickReplies = append(data.QuickReplies, quickReply(q))
			}
		case c.Card != nil:
			data.Cards = append(data.Cards, card(*c.Card))
		case c.Carousel != nil:
			for _, k := range c.Carousel.Cards {
				data.Cards = append(data.Cards, card(k))
			}
		case c.DatePicker != nil:
			data.DatePicker = datePicker(*c.DatePicker)
		case c.ListPicker != nil:
			data.ListPicker = listPicker(*c.ListPicker)
		default:
			complete = false
		}
	}
	text := strings.TrimSpace(h.Text)
	if !complete || (text == "" && len(h.Content) > 0) {
		text = h.FallbackText()
	}
	return text, data
}

func quickReply(q genesys.QuickReply) store.QuickReply {
	return store.QuickReply{Text: q.Text, Payload: cmp.Or(q.Payload, q.Text)}
}

func card(c genesys.Card) store.Card {
	out := store.Card{Title: c.Title, Description: c.Description, ImageURL: c.Image}
	for _, a := range c.Actions {
		action := store.CardAction{Type: store.CardActionPostback, Text: a.Text, Payload: cmp.Or(a.Payload, a.Text)}
		if strings.EqualFold(a.Type, genesys.CardActionLink) {
			action = store.CardAction{Type: store.CardActionLink, Text: cmp.Or(a.Text, a.URL), URL: a.URL}
		}
		out.Actions = append(out.Actions, action)
	}
	return out
}

func datePicker(d genesys.DatePicker) *store.DatePicker {
	out := &store.DatePicker{Title: d.Title, Subtitle: d.Subtitle, Minimum: timeOrNil(d.DateMinimum), Maximum: timeOrNil(d.DateMaximum)}
	for _, t := range d.AvailableTimes {
		out.Times = append(out.Times, store.DatePickerTime{Time: t.DateTime.UTC(), DurationSeconds: t.Duration})
	}
	return out
}

func listPicker(l genesys.ListPicker) *store.ListPicker {
	out := &store.ListPicker{}
	if l.ReceivedMessage != nil {
		out.Title = cmp.Or(l.ReceivedMessage.Title, l.ReceivedMessage.Header)
	}
	for _, s := range l.Sections {
		section := store.ListPickerSection{Title: s.Title, MultipleSelection: s.MultipleSelection}
		for _, item := range s.Items {
			section.Items = append(section.Items, store.ListPickerItem{ID: item.ID, Title: item.Title, Subtitle: item.Subtitle})
		}
		out.Sections = append(out.Sections, section)
	}
	return out
}

func timeOrNil(t genesys.Timestamp) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
