package genesys

import "testing"

func TestAllowsInboundReadsExactTypesAndWildcards(t *testing.T) {
	profile := func(types ...string) SupportedContent {
		sc := SupportedContent{MediaTypes: MediaTypes{Allow: &MediaTypeAccess{}}}
		for _, ty := range types {
			sc.MediaTypes.Allow.Inbound = append(sc.MediaTypes.Allow.Inbound, MediaType{Type: ty})
		}
		return sc
	}
	cases := []struct {
		name    string
		profile SupportedContent
		mime    string
		want    bool
	}{
		{"everything", profile("*/*"), "application/pdf", true},
		{"exact", profile("image/png"), "image/png", true},
		{"exact, case and parameters", profile("Image/PNG"), "image/png; name=x", true},
		{"other exact", profile("image/png"), "image/jpeg", false},
		{"top-level wildcard", profile("image/*"), "image/gif", true},
		{"wildcard of another top level", profile("image/*"), "application/gif", false},
		{"empty list", profile(), "image/png", false},
		{"no allow at all", SupportedContent{}, "image/png", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.profile.AllowsInbound(c.mime); got != c.want {
				t.Fatalf("AllowsInbound(%q) = %v, want %v", c.mime, got, c.want)
			}
		})
	}
}
