package genesys

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// NotificationChannel is a Notifications API channel (docs/genesys.md §Notifications). The
// ConnectURI is a credential: it is dialled without a token, so never log it.
type NotificationChannel struct {
	ID         string    `json:"id"`
	ConnectURI string    `json:"connectUri"`
	Expires    Timestamp `json:"expires,omitzero"`
}

// ChannelTopic is one subscription of a channel and whether Genesys permits it.
type ChannelTopic struct {
	ID                 string   `json:"id"`
	State              string   `json:"state,omitempty"` // Permitted or Rejected
	RejectionReason    string   `json:"rejectionReason,omitempty"`
	MissingPermissions []string `json:"missingPermissions,omitempty"`
}

// NotificationEvent is one message on the notifications WebSocket.
type NotificationEvent struct {
	TopicName string          `json:"topicName"`
	Version   string          `json:"version,omitempty"`
	EventBody json.RawMessage `json:"eventBody"`
}

// Topic names the relay uses.
const (
	TopicHeartbeat     = "channel.metadata"
	TopicSocketClosing = "v2.system.socket_closing"
)

// QueueConversationsTopic is the topic of a queue's message conversations (docs/genesys.md §Notifications).
func QueueConversationsTopic(queueID string) string {
	return "v2.routing.queues." + queueID + ".conversations.messages"
}

// CreateNotificationChannel opens a channel to subscribe topics on.
func (c *Client) CreateNotificationChannel(ctx context.Context) (NotificationChannel, error) {
	var ch NotificationChannel
	err := c.call(ctx, http.MethodPost, "/api/v2/notifications/channels", nil, nil, &ch)
	return ch, err
}

// ListNotificationChannels lists the channels of the whole OAuth client,
// not only of this token (includechannels=oauthclient, docs/genesys.md
// §Notifications): another instance's token made the one to reuse.
func (c *Client) ListNotificationChannels(ctx context.Context) ([]NotificationChannel, error) {
	var out struct {
		Entities []NotificationChannel `json:"entities"`
	}
	err := c.call(ctx, http.MethodGet, "/api/v2/notifications/channels", url.Values{"includechannels": {"oauthclient"}}, nil, &out)
	return out.Entities, err
}

// AddSubscriptions adds topics to those of the channel (POST with
// ignoreErrors), leaving the others as they are.
func (c *Client) AddSubscriptions(ctx context.Context, channelID string, topics []string) ([]ChannelTopic, error) {
	return c.subscriptions(ctx, http.MethodPost, channelID, topics)
}

// SetSubscriptions replaces the channel's topics (PUT with ignoreErrors, so a
// topic the client may not see comes back Rejected instead of failing all).
func (c *Client) SetSubscriptions(ctx context.Context, channelID string, topics []string) ([]ChannelTopic, error) {
	return c.subscriptions(ctx, http.MethodPut, channelID, topics)
}

func (c *Client) subscriptions(ctx context.Context, method, channelID string, topics []string) ([]ChannelTopic, error) {
	body := make([]ChannelTopic, len(topics))
	for i, t := range topics {
		body[i] = ChannelTopic{ID: t}
	}
	var out struct {
		Entities []ChannelTopic `json:"entities"`
	}
	err := c.call(ctx, method, "/api/v2/notifications/channels/"+url.PathEscape(channelID)+"/subscriptions", url.Values{"ignoreErrors": {"true"}}, body, &out)
	return out.Entities, err
}

// Expiry of a channel; Genesys channels live 24 hours unless resubscribed.
func (ch NotificationChannel) Expiry(now time.Time) time.Time {
	if ch.Expires.IsZero() {
		return now.Add(23 * time.Hour)
	}
	return ch.Expires.Time
}
