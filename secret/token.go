package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// NewToken returns n random bytes as hex: URL tokens, session cookies, CSRF
// tokens and API keys all come from here.
func NewToken(n int) string {
	b := make([]byte, n)
	// crypto/rand.Read never fails on supported platforms (Go 1.24+).
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// HashToken is how bearer tokens (session cookies, API keys) are stored: a
// leaked database then holds nothing that signs anyone in. SHA-256 suffices
// because the tokens are 256-bit random values, not passwords.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// webhookSecretPrefix marks a signing secret in the Standard Webhooks form.
const webhookSecretPrefix = "whsec_"

// MinWebhookSecretBytes is the shortest key a bot webhook signing secret may
// carry: Standard Webhooks asks for between 24 and 64 bytes.
const MinWebhookSecretBytes = 24

// NewWebhookSecret returns a signing secret in the Standard Webhooks form,
// whsec_ and the base64 of 32 random bytes.
func NewWebhookSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return webhookSecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// CheckWebhookSecret says what is wrong with a signing secret given in the
// Standard Webhooks form; nil when nothing is.
func CheckWebhookSecret(s string) error {
	encoded, ok := strings.CutPrefix(s, webhookSecretPrefix)
	if !ok {
		return errors.New("a signing secret starts with whsec_")
	}
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return errors.New("after whsec_ a signing secret is standard base64")
	}
	if len(key) < MinWebhookSecretBytes || len(key) > 64 {
		return fmt.Errorf("a signing secret's key has between %d and 64 bytes, not %d", MinWebhookSecretBytes, len(key))
	}
	return nil
}
