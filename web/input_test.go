package web_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
)

func TestQueryAndFormFieldsWithANULCharacterAreRefusedBeforeTheyReachTheDatabase(t *testing.T) {
	base, logs := serve(t, "")
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	token := string(csrfField.FindSubmatch(page)[1])

	cases := []struct{ name, method, path, form, field string }{
		{"a user name", http.MethodPost, "/login", "username=admin%00&password=x&_csrf=" + token, "username"},
		{"a form field's name", http.MethodPost, "/login", "username=admin&pass%00word=x&_csrf=" + token, "password"},
		{"a Copilot link's token", http.MethodGet, "/copilot?userId=u&URLToken=ab%00cd", "", "URLToken"},
		{"a search", http.MethodGet, "/conversations?q=%00", "", "q"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, base+c.path, strings.NewReader(c.form))
			if c.form != "" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), c.field) || !strings.Contains(string(body), "NUL character") {
				t.Fatalf("answer %d; want 400 naming %s:\n%s", resp.StatusCode, c.field, body)
			}
		})
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("a refused request was logged as an error:\n%s", logs)
	}
}
