package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// tracesCounted counts the traces that reach the logger behind the filter.
type tracesCounted struct {
	logger.Interface
	traces int
}

func (c *tracesCounted) Trace(context.Context, time.Time, func() (string, int64), error) {
	c.traces++
}

func TestOnlyFailedOrSlowStatementsHaveTheirSQLRendered(t *testing.T) {
	rendered := 0
	sql := func() (string, int64) { rendered++; return "SELECT 1", 1 }
	cases := []struct {
		name    string
		began   time.Duration // before now
		err     error
		reaches bool
	}{
		{"fast and fine", 0, nil, false},
		{"fast, nothing found", 0, gorm.ErrRecordNotFound, false},
		{"fast and failed", 0, errors.New("constraint failed"), true},
		{"slow and fine", time.Second, nil, true},
	}
	for _, c := range cases {
		inner := &tracesCounted{Interface: logger.Discard}
		l := slowOrFailedLogger{inner, 200 * time.Millisecond}
		l.Trace(context.Background(), time.Now().Add(-c.began), sql, c.err)
		if got := inner.traces == 1; got != c.reaches {
			t.Errorf("%s: reached the logger %v, want %v", c.name, got, c.reaches)
		}
	}
	if rendered != 0 {
		t.Errorf("the filter rendered the SQL itself %d times; only the logger behind it may", rendered)
	}
}
