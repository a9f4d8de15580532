package config

import (
	"strings"
	"testing"
)

func TestAnAdminPasswordFromTheEnvironmentNeedsTwelveCharacters(t *testing.T) {
	for _, short := range []string{"short", "elevenchars", "ééééééééééé"} {
		_, err := Load(env(map[string]string{"HANDOVER_ADMIN_PASSWORD": short}))
		if err == nil || !strings.Contains(err.Error(), "HANDOVER_ADMIN_PASSWORD: use at least 12 characters") {
			t.Errorf("%q: err = %v, want one asking for at least 12 characters", short, err)
		}
	}
	if _, err := Load(env(map[string]string{"HANDOVER_ADMIN_PASSWORD": strings.Repeat("é", 37)})); err == nil || !strings.Contains(err.Error(), "at most 72 bytes") {
		t.Errorf("a password bcrypt would cut: err = %v", err)
	}
	for _, fine := range []string{"", "twelve chars", "ééééééééééé1"} {
		if _, err := Load(env(map[string]string{"HANDOVER_ADMIN_PASSWORD": fine})); err != nil {
			t.Errorf("%q: %v", fine, err)
		}
	}
}
