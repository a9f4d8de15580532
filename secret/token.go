package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
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
