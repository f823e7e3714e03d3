package db

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"gorm.io/gorm"
	gormlogger "gorm.io/gorm/logger"
)

// Logger sends GORM's logging to slog. Slow queries are warnings; failed statements are
// logged at debug only, because the caller decides whether an error is expected (a unique
// violation is a 409) or internal (logged once by the HTTP layer with the request id).
// GORM's own logger.NewSlogLogger is not used: it renders every statement's SQL before
// deciding whether to log it (a cost on the hot path) and logs each 409 as an error.
type Logger struct {
	log  *slog.Logger
	slow time.Duration
}

// NewLogger returns a GORM logger that warns about statements slower than slow (0 disables).
func NewLogger(log *slog.Logger, slow time.Duration) *Logger {
	return &Logger{log: log.With("component", "gorm"), slow: slow}
}

// LogMode is part of gormlogger.Interface; levels come from slog's handler instead.
func (l *Logger) LogMode(gormlogger.LogLevel) gormlogger.Interface { return l }

// Info logs at info.
func (l *Logger) Info(ctx context.Context, msg string, args ...any) {
	l.log.InfoContext(ctx, fmt.Sprintf(msg, args...))
}

// Warn logs at warn.
func (l *Logger) Warn(ctx context.Context, msg string, args ...any) {
	l.log.WarnContext(ctx, fmt.Sprintf(msg, args...))
}

// Error logs at error.
func (l *Logger) Error(ctx context.Context, msg string, args ...any) {
	l.log.ErrorContext(ctx, fmt.Sprintf(msg, args...))
}

// ParamsFilter keeps bound values (emails, names) out of the logged SQL.
func (l *Logger) ParamsFilter(_ context.Context, sql string, _ ...any) (string, []any) {
	return sql, nil
}

// markedPlaceholder is how GORM renders "$1" when ParamsFilter withheld the values: "$1$".
var markedPlaceholder = regexp.MustCompile(`\$(\d+)\$`)

// statement returns the SQL as sent, with plain $n placeholders, and the rows affected.
func statement(fc func() (string, int64)) (string, int64) {
	sql, rows := fc()
	return markedPlaceholder.ReplaceAllString(sql, "$$$1"), rows
}

// Trace is called after every statement.
func (l *Logger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	elapsed := time.Since(begin)
	switch {
	case l.slow > 0 && elapsed > l.slow:
		sql, rows := statement(fc)
		l.log.WarnContext(ctx, "slow query", "elapsed", elapsed, "threshold", l.slow, "rows", rows, "sql", sql)
	case err != nil && !errors.Is(err, gorm.ErrRecordNotFound) && l.log.Enabled(ctx, slog.LevelDebug):
		sql, rows := statement(fc)
		l.log.DebugContext(ctx, "query failed", "elapsed", elapsed, "rows", rows, "sql", sql, "err", err)
	case l.log.Enabled(ctx, slog.LevelDebug):
		sql, rows := statement(fc)
		l.log.DebugContext(ctx, "query", "elapsed", elapsed, "rows", rows, "sql", sql)
	}
}
