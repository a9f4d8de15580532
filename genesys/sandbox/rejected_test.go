package sandbox

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
)

func TestThreeHundredRefusedMegabytesLeaveTheLastHundredRecordsOfFourKilobytes(t *testing.T) {
	h := startSandbox(t, nil)
	const size = 1_000_000
	for i := range 300 {
		// Each body starts with its number, so the records show which were kept.
		body := append(fmt.Appendf(nil, "%03d", i), bytes.Repeat([]byte("x"), size-3)...)
		req, _ := http.NewRequest(http.MethodPost, h.base+"/api/v2/conversations/messages/x/inbound/open/message", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer not-a-token")
		if resp, _ := do(t, req); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("request %d: %d, want 401", i, resp.StatusCode)
		}
	}
	rejected := h.sb.Rejected()
	if len(rejected) != 100 {
		t.Fatalf("%d refused requests kept, want the last 100", len(rejected))
	}
	for i, r := range rejected {
		if len(r.Body) > 4<<10 || cap(r.Body) > 8<<10 || r.BodyBytes != size {
			t.Fatalf("record %d keeps %d bytes (capacity %d) of a body of %d, want at most 4 KB of %d", i, len(r.Body), cap(r.Body), r.BodyBytes, size)
		}
		if want := fmt.Sprintf("%03d", 200+i); string(r.Body[:3]) != want {
			t.Fatalf("record %d is of request %s, want %s: the last 100, oldest first", i, r.Body[:3], want)
		}
	}
}
