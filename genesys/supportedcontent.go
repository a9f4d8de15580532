package genesys

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// SupportedContent is an integration's supported content profile
// (SupportedContent): which media types may travel each way. Inbound is
// customer → Genesys, what Handover sends (docs/genesys.md §SupportedContent).
type SupportedContent struct {
	ID         string     `json:"id"`
	Name       string     `json:"name,omitempty"`
	MediaTypes MediaTypes `json:"mediaTypes"`
}

// MediaTypes lists the allowed media types per direction.
type MediaTypes struct {
	Allow *MediaTypeAccess `json:"allow,omitempty"`
}

// MediaTypeAccess is allow.inbound and allow.outbound.
type MediaTypeAccess struct {
	Inbound  []MediaType `json:"inbound,omitempty"`
	Outbound []MediaType `json:"outbound,omitempty"`
}

// MediaType is one RFC 2046 type, exact ("image/jpeg") or a wildcard
// ("image/*", "*/*").
type MediaType struct {
	Type string `json:"type"`
}

// AllowsInbound tells whether Genesys accepts an attachment of mime from the
// customer: some allowed inbound type is "*/*", equals it, or is "top/*" of
// its top-level type. Parameters after ";" are ignored; no list allows nothing.
func (s SupportedContent) AllowsInbound(mime string) bool {
	if s.MediaTypes.Allow == nil {
		return false
	}
	mime, _, _ = strings.Cut(mime, ";")
	mime = strings.ToLower(strings.TrimSpace(mime))
	top, _, _ := strings.Cut(mime, "/")
	for _, allowed := range s.MediaTypes.Allow.Inbound {
		t := strings.ToLower(strings.TrimSpace(allowed.Type))
		if t == "*/*" || t == mime || (strings.HasSuffix(t, "/*") && strings.TrimSuffix(t, "/*") == top) {
			return true
		}
	}
	return false
}

// InboundTypes lists the allowed inbound types, for an error message.
func (s SupportedContent) InboundTypes() []string {
	if s.MediaTypes.Allow == nil {
		return nil
	}
	out := make([]string, len(s.MediaTypes.Allow.Inbound))
	for i, t := range s.MediaTypes.Allow.Inbound {
		out[i] = t.Type
	}
	return out
}

// Integration reads one Open Messaging integration, with the reference to
// its supported content profile.
func (c *Client) Integration(ctx context.Context, id string) (Integration, error) {
	var in Integration
	err := c.call(ctx, http.MethodGet, "/api/v2/conversations/messaging/integrations/open/"+url.PathEscape(id), nil, nil, &in)
	return in, err
}

// SupportedContent reads a supported content profile (permission
// messaging:supportedContent:view).
func (c *Client) SupportedContent(ctx context.Context, id string) (SupportedContent, error) {
	var sc SupportedContent
	err := c.call(ctx, http.MethodGet, "/api/v2/conversations/messaging/supportedcontent/"+url.PathEscape(id), nil, nil, &sc)
	return sc, err
}
