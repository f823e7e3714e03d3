package resilience

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// An app that is opened and closed (tests, tools, the perf suites) must not leave the
// breaker's goroutines behind, whatever state the breaker was in.
func TestCloseLeavesNoGoroutineBehind(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, open := range []bool{false, true} {
		var mu sync.Mutex
		var reported []State
		b, err := NewBreaker(BreakerConfig{FailureThreshold: 1, Window: time.Second, OpenTimeout: time.Minute,
			HalfOpenProbes: 1, HalfOpenSuccesses: 1, OnStateChange: func(_, to State, _ string) {
				mu.Lock()
				defer mu.Unlock()
				reported = append(reported, to)
			}})
		require.NoError(t, err)
		if open {
			_ = b.Do(context.Background(), func(context.Context) error { return errDown })
			require.Equal(t, StateOpen, b.State())
		}
		b.Close()
		called := false
		err = b.Do(context.Background(), func(context.Context) error { called = true; return nil })
		require.ErrorIs(t, err, ErrBreakerOpen, "a call after Close is rejected")
		require.False(t, called)
		time.Sleep(20 * time.Millisecond) // a wrongly reported transition would arrive by now
		mu.Lock()
		for _, to := range reported {
			require.NotEqual(t, StateHalfOpen, to, "closing is not a state change to report (it would be logged)")
		}
		mu.Unlock()
	}
}
