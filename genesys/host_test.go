package genesys

import (
	"strings"
	"testing"
)

func TestParseHostNormalisesWhatAdminsPaste(t *testing.T) {
	tests := []struct {
		input string
		want  Host
	}{
		{"mypurecloud.de", "mypurecloud.de"},
		{"  MyPureCloud.DE ", "mypurecloud.de"},
		{"apps.mypurecloud.de", "mypurecloud.de"},
		{"login.mypurecloud.de", "mypurecloud.de"},
		{"api.mypurecloud.de", "mypurecloud.de"},
		{"mypurecloud.de/", "mypurecloud.de"},
		{"https://apps.cac1.pure.cloud/", "cac1.pure.cloud"},
		{"https://login.mypurecloud.com.au", "mypurecloud.com.au"},
		{"https://apps.use2.us-gov-pure.cloud", "use2.us-gov-pure.cloud"},
		{"cac1.pure.cloud", "cac1.pure.cloud"},
		{"https://apps.xyz9.pure.cloud", "xyz9.pure.cloud"},
		{"http://127.0.0.1:8080/sandbox/genesys/", "http://127.0.0.1:8080/sandbox/genesys"},
		{"http://localhost:9000", "http://localhost:9000"},
		{"https://genesys-proxy.example.com/base", "https://genesys-proxy.example.com/base"},
		{"https://apps.mypurecloud.de:8443", "https://apps.mypurecloud.de:8443"},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			got, err := ParseHost(tt.input, false)
			if err != nil {
				t.Fatalf("ParseHost(%q): %v", tt.input, err)
			}
			if got != tt.want {
				t.Fatalf("ParseHost(%q) = %q, want %q", tt.input, got, tt.want)
			}
		})
	}
}

func TestParseHostRejectsWhatCannotBeAHost(t *testing.T) {
	tests := []struct{ input, wantInError string }{
		{"", "region domain"},
		{"mypurecloud", "not a domain"},
		{"my purecloud.de", "not a domain"},
		{"ftp://mypurecloud.de", "https://"},
		{"http://genesys.example.com", "plain http"},
		{"https://user:pw@mypurecloud.de", "not a valid URL"},
		{"https://mypurecloud.de/?a=b", "not a valid URL"},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			_, err := ParseHost(tt.input, false)
			if err == nil || !strings.Contains(err.Error(), tt.wantInError) {
				t.Fatalf("ParseHost(%q) error = %v, want one mentioning %q", tt.input, err, tt.wantInError)
			}
		})
	}
}

func TestParseHostAllowsInsecureRemoteHostOnlyWhenAllowed(t *testing.T) {
	got, err := ParseHost("http://genesys.internal:8080", true)
	if err != nil || got != "http://genesys.internal:8080" {
		t.Fatalf("ParseHost with allowInsecure = %q, %v", got, err)
	}
}

func TestHostURLsAndWarnings(t *testing.T) {
	region := Host("mypurecloud.de")
	if region.LoginURL() != "https://login.mypurecloud.de/oauth/token" || region.APIBase() != "https://api.mypurecloud.de" {
		t.Fatalf("region URLs: %s %s", region.LoginURL(), region.APIBase())
	}
	if region.Warning() != "" {
		t.Fatalf("known region warned: %s", region.Warning())
	}
	custom := Host("http://127.0.0.1:8080/sandbox/genesys")
	if custom.LoginURL() != "http://127.0.0.1:8080/sandbox/genesys/oauth/token" || custom.APIBase() != "http://127.0.0.1:8080/sandbox/genesys" {
		t.Fatalf("custom URLs: %s %s", custom.LoginURL(), custom.APIBase())
	}
	warning := Host("mypurecloud.xx").Warning()
	if !strings.Contains(warning, "not a known Genesys Cloud region") || !strings.Contains(warning, "cac1.pure.cloud") {
		t.Fatalf("unknown domain warning = %q", warning)
	}
}
