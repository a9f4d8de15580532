package live

// The events of a bot session: the SSE event names of its stream, and the
// type of each event webhook to the bot (README "Event webhooks to the bot").
const (
	EventMessage = "message" // an agent's (or a flow's) message
	EventTyping  = "typing"  // the agent types
	EventState   = "state"   // the conversation changed state (queued, agent joined, ended …)
	EventReceipt = "receipt" // a user message did not get through
	EventQueue   = "queue"   // the waiting user's place in the queue
	// EventTest is only ever sent to a bot webhook, by "Send a test event".
	EventTest = "test"
)
