package sandbox

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/handover-relay/handover/genesys"
)

// Integration listing paging (docs/genesys.md §Inbound).
const (
	defaultPageSize = 25
	// maxPageSize: the largest pageSize Genesys accepts is UNCERTAIN. Larger
	// requests are clamped rather than refused, so that a relay that follows
	// pageCount or nextUri works whatever the real cap is.
	maxPageSize = 100
)

const integrationsPath = "/api/v2/conversations/messaging/integrations/open"

// listIntegrations is GET …/integrations/open?pageSize&pageNumber. The
// paging URIs are relative to the API base, as Genesys writes them.
func (s *Sandbox) listIntegrations(c *fiber.Ctx) error {
	pageSize, err := positiveQuery(c, "pageSize", defaultPageSize)
	if err != nil {
		return s.apiError(c, fiber.StatusBadRequest, "bad.request", err.Error())
	}
	pageNumber, err := positiveQuery(c, "pageNumber", 1)
	if err != nil {
		return s.apiError(c, fiber.StatusBadRequest, "bad.request", err.Error())
	}
	pageSize = min(pageSize, maxPageSize)

	s.mu.Lock()
	all := make([]genesys.Integration, len(s.integrations))
	for i, in := range s.integrations {
		all[i] = in.Integration
	}
	s.mu.Unlock()

	total := len(all)
	pageCount := (total + pageSize - 1) / pageSize
	start := min((pageNumber-1)*pageSize, total)
	end := min(start+pageSize, total)
	uri := func(n int) string {
		return fmt.Sprintf("%s?pageSize=%d&pageNumber=%d", integrationsPath, pageSize, n)
	}
	listing := genesys.IntegrationListing{
		Entities:   all[start:end],
		PageSize:   pageSize,
		PageNumber: pageNumber,
		PageCount:  pageCount,
		Total:      int64(total),
		FirstURI:   uri(1),
		SelfURI:    uri(pageNumber),
		LastURI:    uri(max(pageCount, 1)),
	}
	if pageNumber < pageCount {
		listing.NextURI = uri(pageNumber + 1)
	}
	if pageNumber > 1 {
		listing.PreviousURI = uri(pageNumber - 1)
	}
	return c.JSON(listing)
}

func positiveQuery(c *fiber.Ctx, name string, fallback int) (int, error) {
	raw := c.Query(name)
	if raw == "" {
		return fallback, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("Value [%s] for %s is not a positive integer", raw, name)
	}
	return n, nil
}

// getIntegration is GET …/integrations/open/{integrationId}.
func (s *Sandbox) getIntegration(c *fiber.Ctx) error {
	s.mu.Lock()
	in := s.integrationLocked(c.Params("integrationId"))
	var out genesys.Integration
	if in != nil {
		out = in.Integration
	}
	s.mu.Unlock()
	if in == nil {
		return s.apiError(c, fiber.StatusNotFound, "not.found", "Integration not found")
	}
	return c.JSON(out)
}

// readInbound is the common start of the inbound endpoints: the integration
// must exist (404) and the body must match the schema (400). It answers the
// refusal itself and then returns ok false.
func (s *Sandbox) readInbound(c *fiber.Ctx, schema string, into any) (in *integration, body []byte, ok bool, err error) {
	integrationID := c.Params("integrationId")
	s.mu.Lock()
	found := s.integrationLocked(integrationID)
	s.mu.Unlock()
	if found == nil {
		return nil, nil, false, s.apiError(c, fiber.StatusNotFound, "not.found",
			fmt.Sprintf("Open messaging integration %s not found", integrationID))
	}
	body = slices.Clone(c.Body())
	if err := s.spec.ValidateRequestBody(schema, body); err != nil {
		return nil, nil, false, s.apiError(c, fiber.StatusBadRequest, "bad.request", err.Error())
	}
	if err := json.Unmarshal(body, into); err != nil {
		return nil, nil, false, s.apiError(c, fiber.StatusBadRequest, "bad.request", "body does not match "+schema+": "+err.Error())
	}
	return found, body, true, nil
}

// responseChannel is channel of an answer to an inbound call: the
// integration is the recipient.
func responseChannel(integrationID string, from genesys.Recipient, messageID string, t genesys.Timestamp) genesys.Channel {
	return genesys.Channel{
		ID:        integrationID,
		Platform:  "Open",
		Type:      "Private",
		MessageID: messageID,
		To:        genesys.Recipient{ID: integrationID},
		From:      from,
		Time:      t,
	}
}

// inboundMessage is POST …/{integrationId}/inbound/open/message (docs/genesys.md
// §Inbound). The first message of a customer starts a conversation; later ones
// join it until it ends.
func (s *Sandbox) inboundMessage(c *fiber.Ctx) error {
	var msg genesys.InboundMessage
	in, body, ok, err := s.readInbound(c, "OpenInboundNormalizedMessage", &msg)
	if !ok {
		return err
	}
	// The schema check sees whether the keys are there; an empty text with
	// no content carries nothing for the agent either.
	if strings.TrimSpace(msg.Text) == "" && len(msg.Content) == 0 {
		return s.apiError(c, fiber.StatusBadRequest, "bad.request",
			"body does not match OpenInboundNormalizedMessage: should have required property 'text' or 'content'")
	}
	prefetch, _ := strconv.ParseBool(c.Query("prefetchConversationId"))
	now := s.now()

	s.mu.Lock()
	defer s.mu.Unlock()
	key := dedupeKey{KindMessage, in.ID, msg.Channel.MessageID}
	// Whether Genesys drops a repeated channel.messageId is UNCERTAIN
	// (docs/genesys.md §Inbound). The sandbox does, answering with the first response,
	// so that a relay that resends after a crash (not knowing whether the
	// first send landed) does not show the agent the message twice.
	if first, seen := s.dedupe[key]; seen && msg.Channel.MessageID != "" {
		s.addInbound(InboundRecord{
			Kind: KindMessage, IntegrationID: in.ID, ConversationID: first.ConversationID,
			Body: body, Parsed: msg, Duplicate: true, Time: now,
		})
		return c.JSON(withConversationID(*first, prefetch))
	}

	conv := s.activeConversationLocked(in.ID, msg.Channel.From.ID)
	started := conv == nil
	if started {
		var attrs map[string]string
		if msg.Channel.Metadata != nil {
			attrs = msg.Channel.Metadata.CustomAttributes
		}
		conv = s.startConversationLocked(in, msg.Channel.From, attrs, now)
	}
	content := make([]genesys.Content, 0, len(msg.Content))
	for _, item := range msg.Content {
		if item.Attachment != nil && in.content.AllowsInbound(item.Attachment.Mime) {
			a := *item.Attachment
			content = append(content, genesys.Content{ContentType: genesys.ContentTypeAttachment, Attachment: &a})
		}
	}
	resp := genesys.MessageResponse{
		ID:             genesysID(),
		Channel:        responseChannel(in.ID, msg.Channel.From, msg.Channel.MessageID, msg.Channel.Time),
		Type:           genesys.MessageTypeText,
		Text:           msg.Text,
		Content:        content,
		Metadata:       maps.Clone(msg.Metadata),
		ConversationID: conv.ID,
	}
	conv.Messages = append(conv.Messages, Message{
		ID:               resp.ID,
		Direction:        genesys.DirectionInbound,
		ChannelMessageID: msg.Channel.MessageID,
		Type:             genesys.MessageTypeText,
		Text:             msg.Text,
		Content:          copyContent(content),
		From:             displayName(msg.Channel.From),
		Time:             now,
	})
	if msg.Channel.MessageID != "" {
		stored := resp
		s.dedupe[key] = &stored
	}
	s.addInbound(InboundRecord{
		Kind: KindMessage, IntegrationID: in.ID, ConversationID: conv.ID, Body: body, Parsed: msg, Time: now,
	})
	s.changedLocked(conv)
	s.receiptsForInboundLocked(conv, in, &conv.Messages[len(conv.Messages)-1], now)
	if started && s.cfg.FlowGreeting != "" {
		s.flowMessageLocked(conv, in, genesys.MessageTypeText, s.cfg.FlowGreeting, nil, now)
	}
	return c.JSON(withConversationID(resp, prefetch))
}

// withConversationID keeps conversationId only when the caller asked for it
// with prefetchConversationId=true; Genesys leaves it out otherwise.
func withConversationID(resp genesys.MessageResponse, prefetch bool) genesys.MessageResponse {
	if !prefetch {
		resp.ConversationID = ""
	}
	return resp
}

func displayName(r genesys.Recipient) string {
	switch {
	case r.Nickname != "":
		return r.Nickname
	case r.FirstName != "" || r.LastName != "":
		return strings.TrimSpace(r.FirstName + " " + r.LastName)
	}
	return r.ID
}

// inboundEvent is POST …/inbound/open/event: the customer is typing
// (docs/genesys.md §Inbound).
func (s *Sandbox) inboundEvent(c *fiber.Ctx) error {
	var ev genesys.InboundEvent
	in, body, ok, err := s.readInbound(c, "OpenInboundNormalizedEvent", &ev)
	if !ok {
		return err
	}
	now := s.now()
	s.mu.Lock()
	conversationID := ""
	// A typing event for a customer with no conversation is accepted and
	// dropped: whether Genesys refuses it is UNCERTAIN, and a typing
	// indicator is not worth failing a relay over.
	if conv := s.activeConversationLocked(in.ID, ev.Channel.From.ID); conv != nil {
		conv.CustomerTypingAt = now
		conversationID = conv.ID
	}
	s.addInbound(InboundRecord{
		Kind: KindEvent, IntegrationID: in.ID, ConversationID: conversationID, Body: body, Parsed: ev, Time: now,
	})
	s.mu.Unlock()
	events := make([]genesys.Event, len(ev.Events))
	for i, e := range ev.Events {
		events[i] = genesys.Event{EventType: e.EventType}
	}
	return c.JSON(genesys.MessageResponse{
		ID:      genesysID(),
		Channel: responseChannel(in.ID, ev.Channel.From, "", ev.Channel.Time),
		Type:    genesys.MessageTypeEvent,
		Events:  events,
	})
}

// inboundReceipt is POST …/inbound/open/receipt: whether an agent message
// reached the customer (docs/genesys.md §Receipts).
func (s *Sandbox) inboundReceipt(c *fiber.Ctx) error {
	var r genesys.InboundReceipt
	in, body, ok, err := s.readInbound(c, "OpenInboundNormalizedReceipt", &r)
	if !ok {
		return err
	}
	now := s.now()
	s.mu.Lock()
	conversationID := ""
	// A receipt for an id Genesys never sent is accepted and only logged:
	// whether Genesys refuses it is UNCERTAIN.
	if cid, known := s.agentMessages[r.ID]; known {
		conversationID = cid
		conv := s.convs[cid]
		for i := range conv.Messages {
			if conv.Messages[i].ID == r.ID {
				conv.Messages[i].ReceiptStatus = r.Status
				conv.Messages[i].ReceiptReasons = slices.Clone(r.Reasons)
			}
		}
	}
	s.addInbound(InboundRecord{
		Kind: KindReceipt, IntegrationID: in.ID, ConversationID: conversationID, Body: body, Parsed: r, Time: now,
	})
	s.mu.Unlock()
	return c.JSON(genesys.MessageResponse{
		ID: r.ID,
		Channel: genesys.Channel{
			ID: in.ID, Platform: "Open", Type: "Private", MessageID: r.ID,
			To:   r.Channel.To,
			From: genesys.Recipient{ID: in.ID, IDType: genesys.IDTypeOpaque},
			Time: r.Channel.Time,
		},
		Type:           genesys.MessageTypeReceipt,
		Status:         r.Status,
		Reasons:        r.Reasons,
		IsFinalReceipt: r.IsFinalReceipt,
		// The receipt is about an agent message, which went outbound.
		Direction: genesys.DirectionOutbound,
	})
}

// inboundStructured is POST …/inbound/open/structured/response: the customer
// clicked a quick reply or button (docs/genesys.md §Structured). It only adds to an
// existing conversation.
func (s *Sandbox) inboundStructured(c *fiber.Ctx) error {
	var r genesys.InboundStructuredResponse
	in, body, ok, err := s.readInbound(c, "OpenInboundStructuredResponseMessage", &r)
	if !ok {
		return err
	}
	now := s.now()
	s.mu.Lock()
	key := dedupeKey{KindStructured, in.ID, r.Channel.MessageID}
	if first, seen := s.dedupe[key]; seen && r.Channel.MessageID != "" {
		s.addInbound(InboundRecord{
			Kind: KindStructured, IntegrationID: in.ID, ConversationID: first.ConversationID,
			Body: body, Parsed: r, Duplicate: true, Time: now,
		})
		s.mu.Unlock()
		return c.JSON(withConversationID(*first, false))
	}
	conv := s.activeConversationLocked(in.ID, r.Channel.From.ID)
	if conv == nil {
		s.mu.Unlock()
		return s.apiError(c, fiber.StatusBadRequest, "bad.request",
			fmt.Sprintf("No active conversation for %s: a structured response can only be added to an existing conversation", r.Channel.From.ID))
	}
	button := r.ButtonResponse
	resp := genesys.MessageResponse{
		ID:             genesysID(),
		Channel:        responseChannel(in.ID, r.Channel.From, r.Channel.MessageID, r.Channel.Time),
		Type:           genesys.MessageTypeStructured,
		Direction:      genesys.DirectionInbound,
		Content:        []genesys.Content{{ContentType: "ButtonResponse", ButtonResponse: &button}},
		ConversationID: conv.ID,
	}
	stored := button
	conv.Messages = append(conv.Messages, Message{
		ID:                   resp.ID,
		Direction:            genesys.DirectionInbound,
		ChannelMessageID:     r.Channel.MessageID,
		Type:                 genesys.MessageTypeStructured,
		Text:                 button.Text,
		ButtonResponse:       &stored,
		OriginatingMessageID: r.OriginatingMessageID,
		From:                 displayName(r.Channel.From),
		Time:                 now,
	})
	if r.Channel.MessageID != "" {
		first := resp
		s.dedupe[key] = &first
	}
	s.addInbound(InboundRecord{
		Kind: KindStructured, IntegrationID: in.ID, ConversationID: conv.ID, Body: body, Parsed: r, Time: now,
	})
	s.changedLocked(conv)
	s.mu.Unlock()
	return c.JSON(withConversationID(resp, false))
}
