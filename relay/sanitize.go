package relay

import (
	"html"

	"github.com/microcosm-cc/bluemonday"

	"github.com/handover-relay/handover/store"
)

// inputSanitizer removes HTML tags from what a user types before it is
// relayed, stored or shown (the endpoint's inputSanitization,
// docs/privacy.md). bluemonday's strict policy drops every element, and the
// content of script and style; what it leaves is HTML-escaped text, which
// is unescaped again because a message is plain text: "Tom & Jerry's" stays
// as typed. Unescaping can spell a tag again ("&lt;b&gt;" typed literally),
// so the two steps repeat until the text no longer changes: tags spelt as
// entities are removed too, and no pass can hand a tag on.
type inputSanitizer struct{ policy *bluemonday.Policy }

func newInputSanitizer() inputSanitizer { return inputSanitizer{policy: bluemonday.StrictPolicy()} }

// userText is text as the endpoint keeps it: without tags unless the
// endpoint relays HTML as sent.
func (s inputSanitizer) userText(e store.Endpoint, text string) string {
	if e.Privacy.KeepInputHTML || text == "" {
		return text
	}
	for range 4 { // each pass peels one level of escaping; real input needs one or two
		plain := html.UnescapeString(s.policy.Sanitize(text))
		if plain == text {
			break
		}
		text = plain
	}
	return text
}
