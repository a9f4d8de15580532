package store

import "time"

// Organisation owns endpoints. Feature flags admit organisations by name.
type Organisation struct {
	ID        int64
	Name      string
	CreatedAt time.Time
}

// DefaultOrganisation is the organisation that exists from the first start.
const DefaultOrganisation = "default"

// Handover providers an endpoint can use.
const (
	ProviderNone           = ""
	ProviderGenesysCloudOM = "genesysCloudOM"
)

// Endpoint is one bot endpoint with its handover settings.
//
// WebhookSecret and ClientSecret hold plaintext in memory only; the database
// holds them sealed (the *Sealed columns), and the store converts between them.
type Endpoint struct {
	ID             int64
	OrganisationID int64
	Organisation   Organisation
	Name           string
	URLToken       string
	Provider       string

	Host           string // a genesys.Host: region domain or custom base URL
	DeploymentName string
	QueueID        string
	ClientID       string
	SendProfile    bool

	WebhookSecret       string `gorm:"-"`
	ClientSecret        string `gorm:"-"`
	WebhookSecretSealed string
	ClientSecretSealed  string

	// PreviousWebhookSecret still verifies webhooks until
	// PreviousWebhookSecretUntil: the grace period of a rotation.
	PreviousWebhookSecret       string `gorm:"-"`
	PreviousWebhookSecretSealed string
	PreviousWebhookSecretUntil  *time.Time

	// Defaults for a handover request that leaves them out.
	DefaultLanguage         string
	DefaultSkills           []string `gorm:"serializer:json"`
	DefaultPriority         int
	DefaultCustomAttributes map[string]string `gorm:"serializer:json"`
	RelayTyping             bool
	// FlowMessages says what reaches the user of the messages an Architect
	// flow sends (originatingEntity "Bot"): FlowMessagesShow or FlowMessagesHide.
	FlowMessages string
	// ClockSkewMS is how far the channel.time of the last webhook with a
	// skew of more than a minute was from Handover's clock, at ClockSkewAt.
	ClockSkewMS int64
	ClockSkewAt *time.Time
	// AttributeNames renames the routing participant data (key → name); see relay.RoutingAttributes.
	AttributeNames map[string]string `gorm:"serializer:json"`
	// CopilotBaseURL is the AI Copilot app agents open beside the chat; "" means Handover's own /copilot workspace.
	CopilotBaseURL string

	// IntegrationID is what DeploymentName resolved to; IntegrationError is why
	// it did not, in words for the endpoint page.
	IntegrationID    string
	IntegrationError string

	CreatedAt time.Time
	UpdatedAt time.Time
}

// EndpointSettings is what an admin sets on an endpoint, validated.
type EndpointSettings struct {
	Name                    string
	Organisation            Organisation
	Provider                string
	Genesys                 GenesysSettings
	DefaultLanguage         string
	DefaultSkills           []string
	DefaultPriority         int
	DefaultCustomAttributes map[string]string
	RelayTyping             bool
	FlowMessages            string
	AttributeNames          map[string]string
	CopilotBaseURL          string
}

// GenesysSettings are an endpoint's Genesys Cloud settings.
type GenesysSettings struct {
	Host           string
	DeploymentName string
	QueueID        string
	ClientID       string
	ClientSecret   string
	WebhookSecret  string
	SendProfile    bool
}

// Configure sets the endpoint to s. Two rules go with a change: another
// org, integration or client forgets what the old settings resolved to; and
// a replaced webhook secret keeps verifying for grace after now, so that an
// admin can change it in Genesys and here without losing webhooks.
func (e *Endpoint) Configure(s EndpointSettings, grace time.Duration, now time.Time) {
	g := s.Genesys
	if e.Host != g.Host || e.DeploymentName != g.DeploymentName || e.ClientID != g.ClientID {
		e.IntegrationID, e.IntegrationError = "", ""
	}
	if e.WebhookSecret != "" && g.WebhookSecret != e.WebhookSecret && grace > 0 {
		until := now.Add(grace)
		e.PreviousWebhookSecret, e.PreviousWebhookSecretUntil = e.WebhookSecret, &until
	}
	e.Name = s.Name
	e.OrganisationID = s.Organisation.ID
	e.Organisation = s.Organisation
	e.Provider = s.Provider
	e.Host = g.Host
	e.DeploymentName = g.DeploymentName
	e.QueueID = g.QueueID
	e.ClientID = g.ClientID
	e.ClientSecret = g.ClientSecret
	e.WebhookSecret = g.WebhookSecret
	e.SendProfile = g.SendProfile
	e.DefaultLanguage = s.DefaultLanguage
	e.DefaultSkills = s.DefaultSkills
	e.DefaultPriority = s.DefaultPriority
	e.DefaultCustomAttributes = s.DefaultCustomAttributes
	e.RelayTyping = s.RelayTyping
	e.FlowMessages = s.FlowMessages
	e.AttributeNames = s.AttributeNames
	e.CopilotBaseURL = s.CopilotBaseURL
}

// What an endpoint does with Architect flow messages.
const (
	FlowMessagesShow = "show" // the user sees them, marked as from the system
	FlowMessagesHide = "hide" // kept on the timeline only
)

// Admin is a console user.
type Admin struct {
	ID           int64
	Username     string
	PasswordHash string
	CreatedAt    time.Time
}

// Session is a signed-in console session, keyed by the hash of its cookie.
type Session struct {
	TokenHash string `gorm:"primaryKey"`
	AdminID   int64
	Admin     Admin
	CSRFToken string `gorm:"column:csrf_token"`
	CreatedAt time.Time
	ExpiresAt time.Time
	// LastSeenAt is when the session was last used, to the minute: one
	// unused for the idle timeout has ended (see UseSession).
	LastSeenAt time.Time
	RemoteIP   string `gorm:"column:remote_ip"`
	UserAgent  string
}

// APIKey authenticates the JSON admin API. Only its hash is stored; Prefix
// (the first characters) lets admins tell keys apart.
type APIKey struct {
	ID        int64
	Name      string
	Prefix    string
	KeyHash   string
	CreatedAt time.Time
	RevokedAt *time.Time
}

// AllModels lists every model, for the schema test.
func AllModels() []any {
	return []any{&Organisation{}, &Endpoint{}, &Admin{}, &Session{}, &APIKey{}, &Conversation{}, &Message{}, &OutboxItem{}, &APICall{}, &Webhook{}, &PreflightResult{}, &RateLimit{}}
}
