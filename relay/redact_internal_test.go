package relay

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
)

// A failed call to a bot names where it went without the token its URL
// carries, and keeps what went wrong.
func TestAFailedCallsErrorLeavesTheURLsSecretsOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: the call is refused
	_, callErr := http.Get("http://bot:pa55word@" + addr + "/turn?token=s3cret-token#frag")
	if callErr == nil || !strings.Contains(callErr.Error(), "s3cret-token") {
		t.Fatalf("the raw error %v should carry the query for this test to mean anything", callErr)
	}
	got := withoutURLSecrets(callErr)
	for _, secret := range []string{"s3cret-token", "pa55word", "frag"} {
		if strings.Contains(got.Error(), secret) {
			t.Errorf("%q is in %q", secret, got)
		}
	}
	if !strings.Contains(got.Error(), "http://"+addr+"/turn") || !strings.Contains(got.Error(), "refused") {
		t.Errorf("%q should name the host and path and the refusal", got)
	}
	var opErr *net.OpError
	if !errors.As(got, &opErr) {
		t.Errorf("the cause is lost: %v", got)
	}
}
