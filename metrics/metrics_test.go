package metrics

import "testing"

func TestRoutesReplaceIDsSoLabelsStayFew(t *testing.T) {
	for path, want := range map[string]string{
		"/api/v2/conversations/messages/6f1c2a4e-1b2c-4d5e-8f90-a1b2c3d4e5f6/inbound/open/message":                              "/api/v2/conversations/messages/{id}/inbound/open/message",
		"/api/v2/conversations/messages/6f1c2a4e-1b2c-4d5e-8f90-a1b2c3d4e5f6/participants/0b1c2a4e-1b2c-4d5e-8f90-a1b2c3d4e5f6": "/api/v2/conversations/messages/{id}/participants/{id}",
		"/api/v2/notifications/channels/streaming-0-1a2b3c4d5e6f/subscriptions":                                                 "/api/v2/notifications/channels/{id}/subscriptions",
		"/api/v2/conversations/messaging/integrations/open":                                                                     "/api/v2/conversations/messaging/integrations/open",
		"/oauth/token":                  "/oauth/token",
		"/api/v2/routing/queues/123456": "/api/v2/routing/queues/{id}",
	} {
		if got := Route(path); got != want {
			t.Errorf("Route(%s) = %s, want %s", path, got, want)
		}
	}
}

// The live heap is what the memory benchmark (bench/main.go) and an operator
// read to see what stays in memory; heap in use counts unswept spans too.
func TestTheLiveHeapIsExported(t *testing.T) {
	families, err := New(Sources{}).Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "go_gc_heap_live_bytes" {
			return
		}
	}
	t.Fatal("no go_gc_heap_live_bytes among the metrics")
}
