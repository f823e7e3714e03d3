package db_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"usersvc/platform/db"
)

func TestLoggerWarnsAboutSlowQueriesWithoutValues(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	session := gdb.Session(&gorm.Session{Logger: db.NewLogger(log, 50*time.Millisecond)})
	require.NoError(t, session.Exec("SELECT pg_sleep(0.1), ?::text", "secret@example.com").Error)
	require.NoError(t, session.Exec("SELECT 1").Error)

	out := buf.String()
	assert.Equal(t, 1, strings.Count(out, "slow query"), out)
	assert.Contains(t, out, "pg_sleep(0.1), $1::text", "placeholders as sent")
	assert.NotContains(t, out, "secret@example.com", "bound values stay out of logs")
}
