package relay

import (
	"errors"
	"net/url"
)

// withoutURLSecrets is err with the URL of a failed call cut to its scheme,
// host and path: a bot's URL may carry a token in its query (or a user and
// password), and the error goes to the log, the bot delivery log and the
// bot's answer (docs/security.md §Secrets in logs).
func withoutURLSecrets(err error) error {
	urlErr, ok := errors.AsType[*url.Error](err)
	if !ok {
		return err
	}
	safe := "(the URL)"
	if u, perr := url.Parse(urlErr.URL); perr == nil {
		cut := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
		safe = cut.String()
		if u.RawQuery != "" || u.User != nil || u.Fragment != "" {
			safe += " (query and user info left out)"
		}
	}
	return &url.Error{Op: urlErr.Op, URL: safe, Err: urlErr.Err}
}
