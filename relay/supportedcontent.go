package relay

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/handover-relay/handover/genesys"
	"github.com/handover-relay/handover/store"
)

// contentProfileTTL is how long an integration's supported content profile
// is trusted before it is read again (an admin may change it in Genesys).
const contentProfileTTL = 10 * time.Minute

// contentProfiles caches each endpoint's supported content profile.
type contentProfiles struct {
	mu      sync.Mutex
	entries map[int64]contentProfile
}

type contentProfile struct {
	integrationID string
	profile       genesys.SupportedContent
	known         bool // false: Genesys would not say (a missing permission, an outage)
	readAt        time.Time
}

// supportedContent is the supported content profile of the endpoint's
// integration (docs/genesys.md §SupportedContent). known is false when
// Genesys cannot tell now; the caller then lets attachments through, as a
// refused read must never refuse a user's message.
func (r *Relay) supportedContent(ctx context.Context, e store.Endpoint) (genesys.SupportedContent, bool) {
	r.profiles.mu.Lock()
	cached, ok := r.profiles.entries[e.ID]
	r.profiles.mu.Unlock()
	if ok && cached.integrationID == e.IntegrationID && time.Since(cached.readAt) < contentProfileTTL {
		return cached.profile, cached.known
	}
	entry := contentProfile{integrationID: e.IntegrationID, readAt: time.Now()}
	if profile, err := r.readSupportedContent(ctx, e); err != nil {
		r.log.WarnContext(ctx, "supported content profile not read; attachments are sent unchecked", slog.Int64("endpoint_id", e.ID), slog.Any("error", err))
	} else {
		entry.profile, entry.known = profile, true
	}
	r.profiles.mu.Lock()
	r.profiles.entries[e.ID] = entry
	r.profiles.mu.Unlock()
	return entry.profile, entry.known
}

func (r *Relay) readSupportedContent(ctx context.Context, e store.Endpoint) (genesys.SupportedContent, error) {
	c, err := r.client(e)
	if err != nil {
		return genesys.SupportedContent{}, err
	}
	in, err := c.client.Integration(ctx, e.IntegrationID)
	if err != nil {
		return genesys.SupportedContent{}, err
	}
	if in.SupportedContent == nil || in.SupportedContent.ID == "" {
		return genesys.SupportedContent{}, errNoProfile
	}
	return c.client.SupportedContent(ctx, in.SupportedContent.ID)
}

var errNoProfile = errors.New("the integration names no supported content profile")

// checkAttachments refuses, in words for the bot, an attachment whose type
// the integration's profile does not accept from the customer: Genesys would
// drop it without a word.
func (r *Relay) checkAttachments(ctx context.Context, e store.Endpoint, attachments []store.Attachment) error {
	if len(attachments) == 0 || e.IntegrationID == "" {
		return nil
	}
	profile, known := r.supportedContent(ctx, e)
	if !known {
		return nil
	}
	for i, a := range attachments {
		mime := firstNonEmpty(a.Mime, "application/octet-stream")
		if !profile.AllowsInbound(mime) {
			allowed := strings.Join(profile.InboundTypes(), ", ")
			if allowed == "" {
				allowed = "no attachments at all"
			}
			return refuse(ErrGenesysSettings, "attachment_not_allowed", "data.attachments[%d]: the Genesys integration's supported content profile %q does not accept %s from the customer; it accepts %s.",
				i, profile.Name, mime, allowed)
		}
	}
	return nil
}
