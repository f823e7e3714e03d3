package resilience

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/jackc/pgx/v5/pgconn"
	circuitbreaker "github.com/mercari/go-circuitbreaker"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/platform/requestid"
)

var (
	errDown   = fmt.Errorf("users: get: %w", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}) // cannot connect
	errClient = fmt.Errorf("users: create: %w", &pgconn.PgError{Code: "23505"})
)

func newTestBreaker(t *testing.T, mutate func(*BreakerConfig)) (*Breaker, *clock.Mock) {
	t.Helper()
	clk := clock.NewMock()
	cfg := BreakerConfig{
		FailureThreshold: 3, Window: 10 * time.Second, OpenTimeout: time.Second, MaxOpenTimeout: time.Second,
		HalfOpenProbes: 2, HalfOpenSuccesses: 2, Clock: clk,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	b, err := NewBreaker(cfg)
	require.NoError(t, err)
	return b, clk
}

func fail(b *Breaker, err error, n int) {
	for i := 0; i < n; i++ {
		_ = b.Do(context.Background(), func(context.Context) error { return err })
	}
}

func TestBreakerOpensOnUnavailabilityAndRejectsWithoutCalling(t *testing.T) {
	b, _ := newTestBreaker(t, nil)
	fail(b, errDown, 3)
	require.Equal(t, StateOpen, b.State())
	called := false
	err := b.Do(context.Background(), func(context.Context) error { called = true; return nil })
	assert.ErrorIs(t, err, ErrBreakerOpen)
	assert.False(t, called)
}

// Gap 1: the library's Done recognises Ignore by type assertion, so once wrapped with
// context the error counts as a failure. Breaker classifies errors itself.
func TestBreakerCountsOnlyUnavailabilityAndTimeouts(t *testing.T) {
	lib := circuitbreaker.New(circuitbreaker.WithTripFunc(circuitbreaker.NewTripFuncThreshold(3)))
	for i := 0; i < 3; i++ {
		_ = lib.Done(context.Background(), fmt.Errorf("users: create: %w", circuitbreaker.Ignore(errClient)))
	}
	require.Equal(t, circuitbreaker.StateOpen, lib.State(), "the library's gap, for the record")

	b, _ := newTestBreaker(t, nil)
	for _, err := range []error{
		errClient,
		fmt.Errorf("users: update: %w", &pgconn.PgError{Code: "40P01"}), // contention
		fmt.Errorf("users: get: %w", context.Canceled),                  // caller gone
		errors.New("a bug"),
		// A connection lost under a statement: a new one would likely work.
		fmt.Errorf("users: get: %w", &pgconn.PgError{Code: "57P01", Severity: "FATAL"}),
		fmt.Errorf("users: get: %w", io.ErrUnexpectedEOF),
		fmt.Errorf("users: get: %w", &net.OpError{Op: "read", Err: syscall.ECONNRESET}),
	} {
		fail(b, err, 5)
	}
	assert.Equal(t, StateClosed, b.State())
	fail(b, fmt.Errorf("x: %w", &pgconn.PgError{Code: "57014"}), 3) // statement timeout counts
	assert.Equal(t, StateOpen, b.State())
}

func TestBreakerWindowIsTumbling(t *testing.T) {
	b, clk := newTestBreaker(t, nil)
	fail(b, errDown, 2)
	clk.Add(10 * time.Second) // the window resets the counters
	fail(b, errDown, 2)
	assert.Equal(t, StateClosed, b.State())
	fail(b, errDown, 1)
	assert.Equal(t, StateOpen, b.State())
}

// Gap 2: half-open lets every concurrent call through in the library; Breaker admits only
// HalfOpenProbes at a time.
func TestBreakerHalfOpenAdmitsBoundedProbes(t *testing.T) {
	b, clk := newTestBreaker(t, nil)
	fail(b, errDown, 3)
	clk.Add(time.Second)
	require.Equal(t, StateHalfOpen, b.State())

	release := make(chan struct{})
	var admitted, rejected atomic.Int32
	var started, done sync.WaitGroup
	for i := 0; i < 50; i++ {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			err := b.Do(context.Background(), func(context.Context) error {
				admitted.Add(1)
				started.Done()
				<-release
				return nil
			})
			if errors.Is(err, ErrBreakerOpen) {
				rejected.Add(1)
				started.Done()
			}
		}()
	}
	started.Wait()
	assert.Equal(t, int32(2), admitted.Load())
	assert.Equal(t, int32(48), rejected.Load())
	close(release)
	done.Wait()
	assert.Equal(t, StateClosed, b.State(), "two successful probes close it")
}

// Gap 3: the library runs the hook under its lock; a hook calling State() would deadlock.
// Breaker's listener may read the state.
func TestBreakerStateChangeListenerMayReadState(t *testing.T) {
	seen := make(chan string, 10)
	var b *Breaker
	b, clk := newTestBreaker(t, func(c *BreakerConfig) {
		c.OnStateChange = func(from, to State, requestID string) {
			_ = b.State() // would deadlock inside the library's hook
			seen <- fmt.Sprintf("%s->%s[%s]", from, to, requestID)
		}
	})
	for i := 0; i < 3; i++ {
		_ = b.Do(requestid.With(context.Background(), fmt.Sprintf("req-%d", i)), func(context.Context) error { return errDown })
	}
	clk.Add(time.Second)
	require.NoError(t, b.Do(requestid.With(context.Background(), "probe-1"), func(context.Context) error { return nil }))
	require.NoError(t, b.Do(requestid.With(context.Background(), "probe-2"), func(context.Context) error { return nil }))
	var got []string
	for len(got) < 3 {
		select {
		case s := <-seen:
			got = append(got, s)
		case <-time.After(5 * time.Second):
			t.Fatalf("state-change listener stalled after %v", got)
		}
	}
	assert.Equal(t, []string{"closed->open[req-2]", "open->half-open[]", "half-open->closed[probe-2]"}, got,
		"each transition names the request that caused it")
}

// Gap 4: the library's WithOpenTimeout silently replaces WithOpenTimeoutBackOff. Breaker
// passes one: reopening without closing doubles the open period.
func TestBreakerOpenPeriodBacksOff(t *testing.T) {
	b, clk := newTestBreaker(t, func(c *BreakerConfig) { c.MaxOpenTimeout = 8 * time.Second })
	fail(b, errDown, 3)
	clk.Add(time.Second)
	require.Equal(t, StateHalfOpen, b.State())
	fail(b, errDown, 1) // the probe fails: open again, now for 2s
	require.Equal(t, StateOpen, b.State())
	clk.Add(time.Second)
	assert.Equal(t, StateOpen, b.State(), "the second open period is longer")
	clk.Add(time.Second)
	assert.Equal(t, StateHalfOpen, b.State())
}

func TestBreakerDoesNotCountLostCommits(t *testing.T) {
	b, _ := newTestBreaker(t, nil)
	fail(b, fmt.Errorf("users: register: %w: %w", ErrOutcomeUnknown, io.ErrUnexpectedEOF), 10)
	assert.Equal(t, StateClosed, b.State())
}

func TestBreakerIgnoresCallsWhoseContextIsAlreadyOver(t *testing.T) {
	b, _ := newTestBreaker(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	called := false
	for i := 0; i < 5; i++ {
		err := b.Do(ctx, func(context.Context) error { called = true; return context.DeadlineExceeded })
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	}
	assert.False(t, called)
	assert.Equal(t, StateClosed, b.State(), "no attempt, no failure")
}
