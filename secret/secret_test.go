package secret

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpensOnlyWithTheSameKey(t *testing.T) {
	key, _ := ParseKey(strings.Repeat("ab", 32))
	box, err := NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := box.Seal("s3cret")
	if err != nil || !strings.HasPrefix(sealed, "v1:") || strings.Contains(sealed, "s3cret") {
		t.Fatalf("sealed = %q, %v", sealed, err)
	}
	again, _ := box.Seal("s3cret")
	if again == sealed {
		t.Fatal("two seals of the same secret are equal: the nonce is not fresh")
	}
	if plain, err := box.Open(sealed); err != nil || plain != "s3cret" {
		t.Fatalf("open = %q, %v", plain, err)
	}
	otherKey, _ := ParseKey(strings.Repeat("cd", 32))
	other, _ := NewBox(otherKey)
	if _, err := other.Open(sealed); err == nil {
		t.Fatal("opened under another key")
	}
	if _, err := box.Open("plaintext"); err != ErrMalformed {
		t.Fatalf("open of a non-sealed value: %v", err)
	}
	if s, _ := box.Seal(""); s != "" {
		t.Fatal("empty secret sealed to non-empty")
	}
}

func TestParseKeyAcceptsHexAndBase64Only32Bytes(t *testing.T) {
	for _, good := range []string{strings.Repeat("0f", 32), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="} {
		if _, err := ParseKey(good); err != nil {
			t.Errorf("ParseKey(%q): %v", good, err)
		}
	}
	for _, bad := range []string{"", "short", strings.Repeat("0f", 16), "correct horse battery staple"} {
		if _, err := ParseKey(bad); err == nil || !strings.Contains(err.Error(), "openssl rand -hex 32") {
			t.Errorf("ParseKey(%q) = %v, want advice", bad, err)
		}
	}
}

func TestKeyFileIsCreatedOnceWithOwnerOnlyAccess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "secret.key")
	first, created, err := LoadOrCreateKeyFile(path)
	if err != nil || !created || len(first) != KeySize {
		t.Fatalf("first load: %v created=%v", err, created)
	}
	info, _ := os.Stat(path)
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", info.Mode().Perm())
	}
	second, created, err := LoadOrCreateKeyFile(path)
	if err != nil || created || string(second) != string(first) {
		t.Fatal("the key changed on the second start")
	}
}

func TestTokensAreRandomAndHashedStably(t *testing.T) {
	a, b := NewToken(32), NewToken(32)
	if len(a) != 64 || a == b {
		t.Fatalf("tokens %q %q", a, b)
	}
	if HashToken(a) != HashToken(a) || HashToken(a) == HashToken(b) || HashToken(a) == a {
		t.Fatal("HashToken is not a stable one-way mapping")
	}
}
