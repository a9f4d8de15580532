package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// slowOrFailedLogger passes gorm's trace on only for a statement that failed
// or ran slower than slow. gorm's slog logger renders every statement's SQL
// with its values (logger.ExplainSQL) before it decides whether to log it:
// 5 % of Handover's CPU under webhook load (docs/performance.md) for lines
// that are dropped.
type slowOrFailedLogger struct {
	logger.Interface
	slow time.Duration
}

func (l slowOrFailedLogger) LogMode(level logger.LogLevel) logger.Interface {
	return slowOrFailedLogger{l.Interface.LogMode(level), l.slow}
}

func (l slowOrFailedLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	failed := err != nil && !errors.Is(err, gorm.ErrRecordNotFound)
	if failed || time.Since(begin) > l.slow {
		l.Interface.Trace(ctx, begin, fc, err)
	}
}
