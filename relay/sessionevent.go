package relay

import (
	"github.com/handover-relay/handover/live"
	"github.com/handover-relay/handover/store"
)

// SessionEvent is what a timeline entry is on the bot's side: the event name
// (live.EventMessage, …) and its data, the same on the session's event
// stream and in an event webhook to the bot. Only entries the session hears
// of come here (store.Store.SessionEventsAfter, and the bot deliveries).
func SessionEvent(m store.Message) (string, map[string]any) {
	switch event := store.SessionEventType(&m); event {
	case live.EventQueue:
		data := map[string]any{"conversationId": m.ConversationID, "time": m.CreatedAt}
		if q := m.Data.Queue; q != nil {
			data["estimatedWaitSeconds"], data["waiting"], data["waitedSeconds"] = q.EstimatedWaitSeconds, q.Waiting, q.WaitedSeconds
		}
		return event, data
	case live.EventState:
		return event, map[string]any{"conversationId": m.ConversationID, "state": m.Data.State, "reason": m.Data.Reason,
			"agentName": m.Data.AgentName, "time": m.CreatedAt}
	case live.EventReceipt:
		// Only failures reach the bot: the user's message did not get through.
		return event, map[string]any{"conversationId": m.ConversationID, "messageId": m.Data.AboutMessage, "status": m.Delivery,
			"genesysStatus": m.Data.ReceiptStatus, "reason": m.Error, "genesysMessageId": m.GenesysMessageID, "time": m.CreatedAt}
	}
	data := map[string]any{"conversationId": m.ConversationID, "from": m.Direction, "text": m.Text, "attachments": m.Data.Attachments,
		"quickReplies": m.Data.QuickReplies, "agentName": m.Data.AgentName, "genesysMessageId": m.GenesysMessageID, "time": m.CreatedAt}
	// Structured content of a Genesys bot flow, only when there is some.
	if len(m.Data.Cards) > 0 {
		data["cards"] = m.Data.Cards
	}
	if m.Data.DatePicker != nil {
		data["datePicker"] = m.Data.DatePicker
	}
	if m.Data.ListPicker != nil {
		data["listPicker"] = m.Data.ListPicker
	}
	if m.Direction == store.FromFlow {
		// An Architect flow's message: Genesys speaking, not an agent.
		data["from"], data["origin"] = store.FromSystem, "genesys_flow"
	}
	return live.EventMessage, data
}

// TypingEvent is the data of a typing event.
func TypingEvent(from string, durationMS int) map[string]any {
	return map[string]any{"from": from, "durationMs": durationMS}
}
