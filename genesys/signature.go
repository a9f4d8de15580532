package genesys

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// SignatureHeader carries the webhook body's signature (docs/genesys.md §Signature).
const SignatureHeader = "X-Hub-Signature-256"

const signaturePrefix = "sha256="

// Why a webhook signature was refused. They are distinct so that the relay
// can tell an admin "Genesys sent no signature: set the secret on the
// integration" apart from "the secrets differ".
// MinWebhookSecretRunes is Genesys's rule for the integration's signature
// secret token: longer than 15 characters (docs/genesys.md §Signature).
// Genesys refuses to save a shorter one.
const MinWebhookSecretRunes = 16

var (
	ErrSignatureMissing  = errors.New("webhook has no " + SignatureHeader + " header")
	ErrSignatureFormat   = errors.New("webhook signature is not sha256= followed by a base64 HMAC-SHA256")
	ErrSignatureMismatch = errors.New("webhook signature does not match the body; the secret differs or the body was changed")
	ErrSecretEmpty       = errors.New("no webhook secret is configured, so the signature cannot be checked")
)

// Sign returns the X-Hub-Signature-256 value Genesys sends for body:
// "sha256=" and the standard, padded base64 of HMAC-SHA256(secret, body).
func Sign(secret string, body []byte) string {
	return signaturePrefix + base64.StdEncoding.EncodeToString(mac(secret, body))
}

func mac(secret string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}

// VerifySignature checks header against the raw body bytes as received:
// parsing and re-encoding the JSON would change the bytes and break the MAC.
// It compares in constant time and returns nil only for a match.
func VerifySignature(secret string, body []byte, header string) error {
	if secret == "" {
		return ErrSecretEmpty
	}
	header = strings.TrimSpace(header)
	if header == "" {
		return ErrSignatureMissing
	}
	digest, ok := strings.CutPrefix(header, signaturePrefix)
	if !ok {
		return fmt.Errorf("%w: it starts %q", ErrSignatureFormat, clip(header, 10))
	}
	got, err := base64.StdEncoding.DecodeString(digest)
	if err != nil || len(got) != sha256.Size {
		// A 64-character hex digest also decodes as base64, to 48 bytes, so
		// the length check is what catches the commonest mistake.
		if _, hexErr := hex.DecodeString(digest); hexErr == nil && len(digest) == 2*sha256.Size {
			return fmt.Errorf("%w: the digest is hex, Genesys sends base64", ErrSignatureFormat)
		}
		return ErrSignatureFormat
	}
	// Compare the canonical encoding, not the decoded bytes: base64
	// decoding skips newlines and ignores stray low bits, so several strings
	// decode to the same digest, and only Genesys's one form is genuine.
	if !hmac.Equal([]byte(header), []byte(Sign(secret, body))) {
		return ErrSignatureMismatch
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ErrMalformedWebhook says a webhook body is not an Open Messaging envelope.
var ErrMalformedWebhook = errors.New("webhook body is not an Open Messaging message")

// ParseWebhook decodes a webhook body. It refuses bodies that are not a JSON
// object or lack the fields every envelope has (id, channel.id, type), so
// that they can be answered with 400 and not stored; unknown fields and
// unknown types are accepted, because Genesys adds them over time.
func ParseWebhook(body []byte) (Webhook, error) {
	var w Webhook
	if err := json.Unmarshal(body, &w); err != nil {
		var syntaxErr *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntaxErr) || len(strings.TrimSpace(string(body))) == 0:
			return Webhook{}, fmt.Errorf("%w: not JSON: %v", ErrMalformedWebhook, err)
		case errors.As(err, &typeErr) && typeErr.Field == "":
			return Webhook{}, fmt.Errorf("%w: not a JSON object", ErrMalformedWebhook)
		default:
			return Webhook{}, fmt.Errorf("%w: %v", ErrMalformedWebhook, err)
		}
	}
	var missing []string
	if w.ID == "" {
		missing = append(missing, "id")
	}
	if w.Channel.ID == "" {
		missing = append(missing, "channel.id")
	}
	if w.Type == "" {
		missing = append(missing, "type")
	}
	if len(missing) > 0 {
		return Webhook{}, fmt.Errorf("%w: missing %s", ErrMalformedWebhook, strings.Join(missing, ", "))
	}
	return w, nil
}
