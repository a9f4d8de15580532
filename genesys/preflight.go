package genesys

import (
	"context"
	"fmt"

	"golang.org/x/oauth2"
)

// CheckToken asks the login host for a new client-credentials token, for a
// pre-flight check: unlike the calls, it never answers from the cache, so it
// shows whether the credentials work now. The cached token is left alone.
func (c *Client) CheckToken(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.callTimeout)
	defer cancel()
	if _, err := c.oauth.Token(context.WithValue(ctx, oauth2.HTTPClient, c.http)); err != nil {
		return fmt.Errorf("get access token from %s: %w", c.oauth.TokenURL, c.tokenError(err))
	}
	return nil
}
