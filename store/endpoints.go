package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/handover-relay/handover/secret"
)

// Handover providers an endpoint can use.
const (
	ProviderNone           = ""
	ProviderGenesysCloudOM = "genesysCloudOM"
)

// Endpoint types: what calls the endpoint's bot.
const (
	// TypeBot is a bot that calls Handover's bot API (and the demo web
	// chat): the behaviour of every endpoint before types existed.
	TypeBot = "bot"
	// TypeGenesysBotConnector is an endpoint Genesys calls: an Architect
	// flow's Call Bot Connector action posts each customer turn to
	// <Config URL>/botconnector (docs/genesys.md §BotConnector).
	TypeGenesysBotConnector = "genesysBotConnector"
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
	// Type is TypeBot or TypeGenesysBotConnector.
	Type string
	// BotURL is the external bot Handover asks for each turn; "" is the
	// built-in demo bot (relay.Bot).
	BotURL string
	// BotConnectorHeaderName and …Value are the credential header the
	// Genesys Bot Connector integration sends with every turn; the value is
	// sealed in the database like the other secrets.
	BotConnectorHeaderName        string
	BotConnectorHeaderValue       string `gorm:"-"`
	BotConnectorHeaderValueSealed string
	// BotConnectorIntegrationID is the Genesys Bot Connector integration
	// whose bot list Handover registers the endpoint's bot in.
	BotConnectorIntegrationID string

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
	// CopilotToken is the agents' credential: it opens the endpoint's
	// Copilot workspace and nothing else (docs/security.md). When
	// CopilotJWTSecret is set, the workspace also wants a signed auth JWT.
	CopilotToken           string
	CopilotJWTSecret       string `gorm:"-"`
	CopilotJWTSecretSealed string
	// DemoChat serves the demo web chat at /chat/<DemoToken>; the link is
	// the chat's only credential and is revoked by a new token.
	DemoChat  bool
	DemoToken string
	// PreviousURLToken still opens the bot API until PreviousURLTokenUntil:
	// the grace period of a rotation.
	PreviousURLToken      string
	PreviousURLTokenUntil *time.Time
	// BotWebhookURL hears the session's events, signed with BotWebhookSecret
	// as Standard Webhooks says (README "Event webhooks to the bot"); "" for
	// none. A replaced secret signs beside the new one until
	// PreviousBotWebhookSecretUntil.
	BotWebhookURL                  string
	BotWebhookSecret               string `gorm:"-"`
	BotWebhookSecretSealed         string
	PreviousBotWebhookSecret       string `gorm:"-"`
	PreviousBotWebhookSecretSealed string
	PreviousBotWebhookSecretUntil  *time.Time
	Waiting                        WaitingSettings `gorm:"embedded"`
	Privacy                        PrivacySettings `gorm:"embedded"`

	// IntegrationID is what DeploymentName resolved to; IntegrationError is why
	// it did not, in words for the endpoint page.
	IntegrationID    string
	IntegrationError string

	CreatedAt time.Time
	UpdatedAt time.Time
}

// WaitingSettings are what an endpoint does for a customer waiting for an
// agent: refuse a handover nobody can take, tell the session about the
// queue, end a wait or a silence that lasts too long, and what the user
// reads meanwhile.
type WaitingSettings struct {
	IfNoAgents          string // IfNoAgentsQueue or IfNoAgentsRefuse
	QueueUpdateSeconds  int    // queue events every so many seconds while waiting; 0 = off
	QueueTimeoutSeconds int    // end a wait longer than this; 0 = off
	InactivitySeconds   int    // end a conversation silent this long once an agent joined; 0 = off
	// Messages are the texts the user (and, for MessageCustomerLeft, the
	// agent) reads, by MessageAccepted, …; a missing one keeps the default.
	Messages map[string]string `gorm:"serializer:json"`
}

// PrivacySettings are an endpoint's data protection (docs/privacy.md). Their
// zero value is the behaviour before they existed; the admin API names the
// two negated ones collectConversations and inputSanitization.
type PrivacySettings struct {
	// MaskSensitiveLogging keeps the text, user id and custom data of the
	// endpoint's conversations out of the webhook log once a webhook is
	// processed, and out of the process log.
	MaskSensitiveLogging bool
	// MaskIPAddress masks client addresses logged for the endpoint's
	// public routes.
	MaskIPAddress bool
	// DiscardConversationText keeps times, kinds, states, receipts and agent
	// names of a conversation but no text once it ended, and an outbox call's
	// text once it is delivered.
	DiscardConversationText bool
	// KeepInputHTML relays user text as sent, tags included.
	KeepInputHTML bool
	// ConversationRetentionDays deletes an ended conversation, with all that
	// belongs to it, this many days after it ended; 0 keeps it.
	ConversationRetentionDays int
}

// DefaultPrivacy is a new endpoint's data protection: conversations kept 90
// days, HTML removed from user input, nothing masked.
func DefaultPrivacy() PrivacySettings { return PrivacySettings{ConversationRetentionDays: 90} }

// DefaultWaiting is a new endpoint's waiting settings: hand over even when
// nobody is On Queue, a queue event every minute, no timeouts, no texts.
func DefaultWaiting() WaitingSettings {
	return WaitingSettings{IfNoAgents: IfNoAgentsQueue, QueueUpdateSeconds: 60, Messages: map[string]string{}}
}

// What a handover does when nobody is On Queue.
const (
	IfNoAgentsQueue  = "queue"  // hand over anyway, and wait
	IfNoAgentsRefuse = "refuse" // refuse with the availability
)

// The texts of WaitingSettings.Messages.
const (
	MessageAccepted     = "accepted"
	MessageStillWaiting = "stillWaiting"
	MessageAgentJoined  = "agentJoined"
	MessageAgentEnded   = "agentEnded"
	MessageNoAgents     = "noAgents"
	MessageQueueTimeout = "queueTimeout"
	MessageInactivity   = "inactivity"
	MessageFailed       = "failed"
	MessageCustomerLeft = "customerLeft"
)

// MessageKeys lists the texts in the order the console shows them.
var MessageKeys = []string{MessageAccepted, MessageStillWaiting, MessageAgentJoined, MessageAgentEnded, MessageNoAgents,
	MessageQueueTimeout, MessageInactivity, MessageFailed, MessageCustomerLeft}

// What an endpoint does with Architect flow messages.
const (
	FlowMessagesShow = "show" // the user sees them, marked as from the system
	FlowMessagesHide = "hide" // kept on the timeline only
)

// EndpointSettings is what an admin sets on an endpoint, validated.
type EndpointSettings struct {
	Name                    string
	Organisation            Organisation
	Provider                string
	Type                    string
	BotURL                  string
	BotConnector            BotConnectorSettings
	Genesys                 GenesysSettings
	DefaultLanguage         string
	DefaultSkills           []string
	DefaultPriority         int
	DefaultCustomAttributes map[string]string
	Waiting                 WaitingSettings
	Privacy                 PrivacySettings
	RelayTyping             bool
	FlowMessages            string
	AttributeNames          map[string]string
	CopilotBaseURL          string
	// CopilotJWTSecret, when set, replaces the Copilot JWT secret ("" in
	// it turns the JWT off); nil keeps it.
	CopilotJWTSecret *string
	DemoChat         bool
	BotWebhookURL    string
	// BotWebhookSecret, when set, replaces the signing secret; nil keeps it
	// (and makes one when the endpoint has a URL and no secret yet).
	BotWebhookSecret *string
}

// BotConnectorSettings are a Genesys Bot Connector endpoint's settings.
type BotConnectorSettings struct {
	HeaderName    string
	HeaderValue   string
	IntegrationID string
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
	e.Type = s.Type
	e.BotURL = s.BotURL
	e.BotConnectorHeaderName = s.BotConnector.HeaderName
	e.BotConnectorHeaderValue = s.BotConnector.HeaderValue
	e.BotConnectorIntegrationID = s.BotConnector.IntegrationID
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
	if s.CopilotJWTSecret != nil {
		e.CopilotJWTSecret = *s.CopilotJWTSecret
	}
	if s.DemoChat && !e.DemoChat {
		// Turned on: a new link, so one turned off (revoked) stays dead.
		e.DemoToken = secret.NewToken(32)
	}
	e.DemoChat = s.DemoChat
	e.BotWebhookURL = s.BotWebhookURL
	switch {
	case s.BotWebhookSecret != nil && *s.BotWebhookSecret != e.BotWebhookSecret:
		if e.BotWebhookSecret != "" && grace > 0 {
			until := now.Add(grace)
			e.PreviousBotWebhookSecret, e.PreviousBotWebhookSecretUntil = e.BotWebhookSecret, &until
		}
		e.BotWebhookSecret = *s.BotWebhookSecret
	case e.BotWebhookURL != "" && e.BotWebhookSecret == "":
		e.BotWebhookSecret = secret.NewWebhookSecret()
	}
	e.Waiting = s.Waiting
	e.Privacy = s.Privacy
}

// ListEndpoints returns every endpoint with its organisation, by name.
func (s *Store) ListEndpoints(ctx context.Context) ([]Endpoint, error) {
	var endpoints []Endpoint
	err := s.db.WithContext(ctx).Joins("Organisation").Order("endpoints.name, endpoints.id").Find(&endpoints).Error
	if err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	for i := range endpoints {
		if err := s.openSecrets(&endpoints[i]); err != nil {
			return nil, err
		}
	}
	return endpoints, nil
}

// EndpointByID returns one endpoint with its organisation and opened secrets.
func (s *Store) EndpointByID(ctx context.Context, id int64) (Endpoint, error) {
	return s.endpointWhere(ctx, "endpoints.id = ?", id)
}

// EndpointByToken finds the endpoint whose Config URL carries token.
func (s *Store) EndpointByToken(ctx context.Context, token string) (Endpoint, error) {
	e, err := s.endpointWhere(ctx, "endpoints.url_token = ?", token)
	if errors.Is(err, ErrNotFound) && token != "" {
		// A replaced token still opens the bot API during its grace period.
		var previous Endpoint
		previous, err = s.endpointWhere(ctx, "endpoints.previous_url_token = ?", token)
		if err == nil && previous.PreviousURLTokenUntilAt(s.now()) == nil {
			return Endpoint{}, fmt.Errorf("find endpoint: %w", ErrNotFound)
		}
		return previous, err
	}
	return e, err
}

// RotateURLToken gives the endpoint a new URL token; the old one still
// opens the bot API for grace, so that the bot can move to the new Config
// URL without losing a message.
func (s *Store) RotateURLToken(ctx context.Context, id int64, grace time.Duration) (Endpoint, error) {
	err := s.InTx(ctx, func(tx *Store) error {
		e, err := tx.EndpointByID(ctx, id)
		if err != nil {
			return err
		}
		updates := map[string]any{"url_token": secret.NewToken(32), "previous_url_token": "", "previous_url_token_until": nil}
		if grace > 0 {
			updates["previous_url_token"], updates["previous_url_token_until"] = e.URLToken, tx.now().Add(grace)
		}
		tx.endpointsChanged()
		return tx.db.Model(&Endpoint{}).Where("id = ?", id).UpdateColumns(updates).Error
	})
	if err != nil {
		return Endpoint{}, fmt.Errorf("rotate the URL token of endpoint %d: %w", id, err)
	}
	return s.EndpointByID(ctx, id)
}

// EndpointByCopilotToken finds the endpoint whose Copilot token is token.
func (s *Store) EndpointByCopilotToken(ctx context.Context, token string) (Endpoint, error) {
	if token == "" {
		return Endpoint{}, fmt.Errorf("find endpoint: %w", ErrNotFound)
	}
	return s.endpointWhere(ctx, "endpoints.copilot_token = ?", token)
}

// EndpointByDemoToken finds the endpoint whose demo chat link carries token.
func (s *Store) EndpointByDemoToken(ctx context.Context, token string) (Endpoint, error) {
	if token == "" {
		return Endpoint{}, fmt.Errorf("find endpoint: %w", ErrNotFound)
	}
	return s.endpointWhere(ctx, "endpoints.demo_token = ?", token)
}

// FillEndpointTokens gives every endpoint made before they existed its
// Copilot and demo tokens.
func (s *Store) FillEndpointTokens(ctx context.Context) error {
	defer s.endpointsChanged()
	var rows []Endpoint
	if err := s.db.WithContext(ctx).Select("id", "copilot_token", "demo_token").Where("copilot_token = '' OR demo_token = ''").Find(&rows).Error; err != nil {
		return fmt.Errorf("find endpoints without tokens: %w", err)
	}
	for _, e := range rows {
		updates := map[string]any{}
		if e.CopilotToken == "" {
			updates["copilot_token"] = secret.NewToken(32)
		}
		if e.DemoToken == "" {
			updates["demo_token"] = secret.NewToken(32)
		}
		if err := s.db.WithContext(ctx).Model(&Endpoint{}).Where("id = ?", e.ID).UpdateColumns(updates).Error; err != nil {
			return fmt.Errorf("give endpoint %d its tokens: %w", e.ID, err)
		}
	}
	return nil
}

func (s *Store) endpointWhere(ctx context.Context, query string, arg any) (Endpoint, error) {
	found, err := s.cachedEndpoints(fmt.Sprint(query, "\x00", arg), func() ([]Endpoint, error) {
		var e Endpoint
		if err := s.db.WithContext(ctx).Joins("Organisation").Where(query, arg).Take(&e).Error; err != nil {
			return nil, fmt.Errorf("find endpoint: %w", translate(err))
		}
		if err := s.openSecrets(&e); err != nil {
			return nil, err
		}
		return []Endpoint{e}, nil
	})
	if err != nil {
		return Endpoint{}, err
	}
	return found[0], nil
}

// CreateEndpoint inserts e (ID, timestamps and sealed secrets are filled in,
// and the Copilot and demo tokens when empty). ErrConflict when the
// organisation already has an endpoint of that name.
func (s *Store) CreateEndpoint(ctx context.Context, e *Endpoint) error {
	defer s.endpointsChanged()
	if e.CopilotToken == "" {
		e.CopilotToken = secret.NewToken(32)
	}
	if e.DemoToken == "" {
		e.DemoToken = secret.NewToken(32)
	}
	if err := s.sealSecrets(e); err != nil {
		return err
	}
	if err := s.db.WithContext(ctx).Omit("Organisation").Create(e).Error; err != nil {
		return fmt.Errorf("create endpoint %q: %w", e.Name, translate(err))
	}
	return nil
}

// UpdateEndpoint saves every field of e, sealing its secrets anew.
func (s *Store) UpdateEndpoint(ctx context.Context, e *Endpoint) error {
	defer s.endpointsChanged()
	if err := s.sealSecrets(e); err != nil {
		return err
	}
	e.UpdatedAt = s.now()
	res := s.db.WithContext(ctx).Model(&Endpoint{ID: e.ID}).Select("*").Omit("ID", "CreatedAt", "URLToken", "PreviousURLToken", "PreviousURLTokenUntil", "Organisation", "ClockSkewMS", "ClockSkewAt").Updates(e)
	if res.Error != nil {
		return fmt.Errorf("update endpoint %d: %w", e.ID, translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("update endpoint %d: %w", e.ID, ErrNotFound)
	}
	return nil
}

// RecordClockSkew remembers that a webhook of the endpoint showed a clock
// skew (channel.time minus the time received) at a moment, for its page.
//
// Under a clock that stays skewed every webhook shows it, so the row is
// written only when the skew moved by a second or more, or was recorded over
// a minute ago: an endpoint written on every webhook would empty the endpoint
// cache of every instance on every webhook (endpointcache.go).
func (s *Store) RecordClockSkew(ctx context.Context, endpointID int64, skew time.Duration, at time.Time) error {
	res := s.db.WithContext(ctx).Exec(`UPDATE endpoints SET clock_skew_ms = ?, clock_skew_at = ?
		WHERE id = ? AND (clock_skew_at IS NULL OR clock_skew_at < ? OR abs(clock_skew_ms - ?) >= ?)`,
		skew.Milliseconds(), at, endpointID, at.Add(-skewRecordEvery), skew.Milliseconds(), skewRecordStep.Milliseconds())
	if res.Error != nil {
		return fmt.Errorf("record clock skew of endpoint %d: %w", endpointID, res.Error)
	}
	if res.RowsAffected > 0 {
		s.endpointsChanged()
	}
	return nil
}

// A clock skew that stays is recorded again after skewRecordEvery, one that
// moves when it has moved by skewRecordStep.
const (
	skewRecordEvery = time.Minute
	skewRecordStep  = time.Second
)

// DeleteEndpoint removes an endpoint.
func (s *Store) DeleteEndpoint(ctx context.Context, id int64) error {
	defer s.endpointsChanged()
	res := s.db.WithContext(ctx).Delete(&Endpoint{}, id)
	if res.Error != nil {
		return fmt.Errorf("delete endpoint %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete endpoint %d: %w", id, ErrNotFound)
	}
	return nil
}

// sealSecrets prepares e for writing: secrets sealed, and empty lists stored
// as [] and {} rather than NULL.
func (s *Store) sealSecrets(e *Endpoint) error {
	if e.DefaultSkills == nil {
		e.DefaultSkills = []string{}
	}
	if e.DefaultCustomAttributes == nil {
		e.DefaultCustomAttributes = map[string]string{}
	}
	if e.AttributeNames == nil {
		e.AttributeNames = map[string]string{}
	}
	if e.Waiting.IfNoAgents == "" {
		e.Waiting.IfNoAgents = IfNoAgentsQueue
	}
	if e.Waiting.Messages == nil {
		e.Waiting.Messages = map[string]string{}
	}
	if e.FlowMessages == "" {
		e.FlowMessages = FlowMessagesShow
	}
	if e.Type == "" {
		e.Type = TypeBot
	}
	var err error
	if e.WebhookSecretSealed, err = s.box.Seal(e.WebhookSecret); err != nil {
		return fmt.Errorf("seal webhook secret: %w", err)
	}
	if e.ClientSecretSealed, err = s.box.Seal(e.ClientSecret); err != nil {
		return fmt.Errorf("seal client secret: %w", err)
	}
	if e.PreviousWebhookSecretSealed, err = s.box.Seal(e.PreviousWebhookSecret); err != nil {
		return fmt.Errorf("seal previous webhook secret: %w", err)
	}
	if e.CopilotJWTSecretSealed, err = s.box.Seal(e.CopilotJWTSecret); err != nil {
		return fmt.Errorf("seal Copilot JWT secret: %w", err)
	}
	if e.BotWebhookSecretSealed, err = s.box.Seal(e.BotWebhookSecret); err != nil {
		return fmt.Errorf("seal bot webhook secret: %w", err)
	}
	if e.PreviousBotWebhookSecretSealed, err = s.box.Seal(e.PreviousBotWebhookSecret); err != nil {
		return fmt.Errorf("seal previous bot webhook secret: %w", err)
	}
	if e.BotConnectorHeaderValueSealed, err = s.box.Seal(e.BotConnectorHeaderValue); err != nil {
		return fmt.Errorf("seal Bot Connector credential: %w", err)
	}
	return nil
}

func (s *Store) openSecrets(e *Endpoint) error {
	var err error
	if e.WebhookSecret, err = s.box.Open(e.WebhookSecretSealed); err != nil {
		return fmt.Errorf("endpoint %d webhook secret: %w", e.ID, err)
	}
	if e.ClientSecret, err = s.box.Open(e.ClientSecretSealed); err != nil {
		return fmt.Errorf("endpoint %d client secret: %w", e.ID, err)
	}
	if e.PreviousWebhookSecret, err = s.box.Open(e.PreviousWebhookSecretSealed); err != nil {
		return fmt.Errorf("endpoint %d previous webhook secret: %w", e.ID, err)
	}
	if e.CopilotJWTSecret, err = s.box.Open(e.CopilotJWTSecretSealed); err != nil {
		return fmt.Errorf("endpoint %d Copilot JWT secret: %w", e.ID, err)
	}
	if e.BotWebhookSecret, err = s.box.Open(e.BotWebhookSecretSealed); err != nil {
		return fmt.Errorf("endpoint %d bot webhook secret: %w", e.ID, err)
	}
	if e.PreviousBotWebhookSecret, err = s.box.Open(e.PreviousBotWebhookSecretSealed); err != nil {
		return fmt.Errorf("endpoint %d previous bot webhook secret: %w", e.ID, err)
	}
	if e.BotConnectorHeaderValue, err = s.box.Open(e.BotConnectorHeaderValueSealed); err != nil {
		return fmt.Errorf("endpoint %d Bot Connector credential: %w", e.ID, err)
	}
	return nil
}

// PreviousURLTokenUntilAt is when a rotated-out URL token stops opening the
// bot API, while it still does at now; nil when none does.
func (e Endpoint) PreviousURLTokenUntilAt(now time.Time) *time.Time {
	if e.PreviousURLToken == "" || e.PreviousURLTokenUntil == nil || !now.Before(*e.PreviousURLTokenUntil) {
		return nil
	}
	return e.PreviousURLTokenUntil
}

// WebhookSecretsAt lists the secrets that verify a webhook at now: the
// current one, and the previous one during its rotation grace period.
func (e Endpoint) WebhookSecretsAt(now time.Time) []string {
	secrets := []string{e.WebhookSecret}
	if e.PreviousWebhookSecret != "" && e.PreviousWebhookSecretUntil != nil && now.Before(*e.PreviousWebhookSecretUntil) {
		secrets = append(secrets, e.PreviousWebhookSecret)
	}
	return secrets
}

// BotWebhookSecretsAt lists the secrets that sign a bot event at now: the
// current one, and the previous one during its rotation grace period (the
// webhook-signature header carries one signature of each, so a bot that
// still has the old secret verifies too).
func (e Endpoint) BotWebhookSecretsAt(now time.Time) []string {
	secrets := []string{e.BotWebhookSecret}
	if e.PreviousBotWebhookSecret != "" && e.PreviousBotWebhookSecretUntil != nil && now.Before(*e.PreviousBotWebhookSecretUntil) {
		secrets = append(secrets, e.PreviousBotWebhookSecret)
	}
	return secrets
}

// EndpointsByIntegrationID finds the endpoints whose deployment resolved to
// integrationID (normally one).
func (s *Store) EndpointsByIntegrationID(ctx context.Context, integrationID string) ([]Endpoint, error) {
	return s.cachedEndpoints("integration\x00"+integrationID, func() ([]Endpoint, error) {
		var endpoints []Endpoint
		err := s.db.WithContext(ctx).Joins("Organisation").Where("endpoints.integration_id = ? AND endpoints.integration_id <> ''", integrationID).Find(&endpoints).Error
		if err != nil {
			return nil, fmt.Errorf("find endpoints of integration %s: %w", integrationID, err)
		}
		for i := range endpoints {
			if err := s.openSecrets(&endpoints[i]); err != nil {
				return nil, err
			}
		}
		return endpoints, nil
	})
}

// SetEndpointIntegration records what the endpoint's Deployment Name resolved to,
// or why it did not.
func (s *Store) SetEndpointIntegration(ctx context.Context, endpointID int64, integrationID, errText string) error {
	defer s.endpointsChanged()
	err := s.db.WithContext(ctx).Model(&Endpoint{}).Where("id = ?", endpointID).
		Updates(map[string]any{"integration_id": integrationID, "integration_error": errText}).Error
	if err != nil {
		return fmt.Errorf("record integration of endpoint %d: %w", endpointID, err)
	}
	return nil
}
