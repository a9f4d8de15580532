package genesys

import (
	"context"
)

// CheckToken asks the login host for a new client-credentials token, for a
// pre-flight check: unlike the calls, it never answers from the cache, so it
// shows whether the credentials work now. The cached token is left alone.
func (c *Client) CheckToken(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.callTimeout)
	defer cancel()
	_, err := c.fetchToken(ctx)
	return err
}
