package genesys

import "testing"

func TestIsIDAcceptsOnlyTheHyphenatedUUIDForm(t *testing.T) {
	for s, want := range map[string]bool{
		"8a2b4c6d-1e3f-4a5b-8c7d-9e0f1a2b3c4d":      true,
		"8A2B4C6D-1E3F-4A5B-8C7D-9E0F1A2B3C4D":      true,
		"8a2b4c6d1e3f4a5b8c7d9e0f1a2b3c4d":          false, // no hyphens
		"8a2b4c6d-1e3f-4a5b-8c7d-9e0f1a2b3c4":       false, // short
		"8a2b4c6d-1e3f-4a5b-8c7d-9e0f1a2b3c4dd":     false, // long
		"8a2b4c6d-1e3f-4a5b-8c7d-9e0f1a2b3c4g":      false, // not hex
		"8a2b4c6d_1e3f-4a5b-8c7d-9e0f1a2b3c4d":      false, // wrong separator
		"{8a2b4c6d-1e3f-4a5b-8c7d-9e0f1a2b3c4d}":    false,
		"urn:uuid:8a2b4c6d-1e3f-4a5b-8c7d-9e0f1a2b": false,
		"": false,
	} {
		if got := IsID(s); got != want {
			t.Errorf("IsID(%q) = %v, want %v", s, got, want)
		}
	}
}
