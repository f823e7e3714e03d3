package db_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/platform/db"
	"usersvc/platform/resilience"
)

func TestOpenSetsSessionParametersAndPool(t *testing.T) {
	var appName, timeout string
	require.NoError(t, gdb.Raw("SELECT current_setting('application_name'), current_setting('statement_timeout')").Row().Scan(&appName, &timeout))
	assert.Equal(t, "platform_db_test", appName)
	assert.Equal(t, "3s", timeout)
	sqlDB, err := gdb.DB()
	require.NoError(t, err)
	assert.Equal(t, 4, sqlDB.Stats().MaxOpenConnections)
}

func TestStatementTimeoutBoundsServerWork(t *testing.T) {
	cfg := testConfig(dbURL)
	cfg.StatementTimeout = 200 * time.Millisecond
	short, err := db.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer func() { _ = db.Close(short) }()
	start := time.Now()
	err = short.Exec("SELECT pg_sleep(5)").Error
	assert.Less(t, time.Since(start), 2*time.Second)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	assert.Equal(t, "57014", pgErr.Code)
	assert.Equal(t, resilience.ClassTimeout, resilience.Classify(err))
}

func TestOpenNamesTheServerItCannotReach(t *testing.T) {
	cfg := testConfig("postgres://app:secret@127.0.0.1:1/nodb?sslmode=disable")
	cfg.ConnectTimeout = 2 * time.Second
	start := time.Now()
	_, err := db.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Contains(t, err.Error(), "host=127.0.0.1 port=1 database=nodb")
	assert.NotContains(t, err.Error(), "secret")
}
