package resilience

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var fast = RetryPolicy{MaxAttempts: 4, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxElapsed: time.Second}

func contention(err error) bool { return Classify(err) == ClassContention }

func TestRetryRetriesUntilSuccess(t *testing.T) {
	deadlock := &pgconn.PgError{Code: "40P01"}
	calls := 0
	attempts, err := fast.Do(context.Background(), contention, func(context.Context) error {
		calls++
		if calls < 3 {
			return deadlock
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 3, attempts)
}

func TestRetryGivesUpWithTheLastError(t *testing.T) {
	attempts, err := fast.Do(context.Background(), contention, func(context.Context) error {
		return &pgconn.PgError{Code: "40001"}
	})
	assert.Equal(t, 4, attempts, "MaxAttempts tries in all")
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	assert.Equal(t, "40001", pgErr.Code)
}

func TestRetryDoesNotRetryOtherErrors(t *testing.T) {
	unique := &pgconn.PgError{Code: "23505"}
	attempts, err := fast.Do(context.Background(), contention, func(context.Context) error { return unique })
	assert.Equal(t, 1, attempts)
	assert.ErrorIs(t, err, unique)
}

func TestRetryStopsWhenTheCallerGoesAndKeepsTheCause(t *testing.T) {
	slow := RetryPolicy{MaxAttempts: 10, InitialBackoff: time.Hour, MaxBackoff: time.Hour, MaxElapsed: time.Hour}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	attempts, err := slow.Do(ctx, contention, func(context.Context) error { return &pgconn.PgError{Code: "40P01"} })
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Equal(t, 1, attempts)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr, "the database error is kept")
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "and so is the reason retrying stopped")
}

func TestRetryBackoffIsFreshPerCall(t *testing.T) {
	for i := 0; i < 3; i++ {
		attempts, _ := fast.Do(context.Background(), contention, func(context.Context) error { return &pgconn.PgError{Code: "40001"} })
		assert.Equal(t, 4, attempts, "call %d", i)
	}
}
