package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestJSONLinesCarryTheRequestAndConversationIDsOnce(t *testing.T) {
	var buf bytes.Buffer
	logger, err := New(&buf, "json", "debug")
	if err != nil {
		t.Fatal(err)
	}
	ctx := WithConversationID(WithRequestID(context.Background(), "req-1"), 42)
	logger.InfoContext(ctx, "from the context")
	logger.InfoContext(ctx, "says it itself", slog.Int64("conversation_id", 42))
	logger.InfoContext(context.Background(), "about nothing")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, line := range lines[:2] {
		var got map[string]any
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatal(err)
		}
		if got["request_id"] != "req-1" || got["conversation_id"] != float64(42) || strings.Count(line, "conversation_id") != 1 {
			t.Errorf("line %d: %s", i, line)
		}
	}
	if strings.Contains(lines[2], "conversation_id") || strings.Contains(lines[2], "request_id") {
		t.Errorf("a line without context carries ids: %s", lines[2])
	}
}
