package resilience

import (
	"context"
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
		b, err := NewBreaker(BreakerConfig{FailureThreshold: 1, Window: time.Second, OpenTimeout: time.Minute,
			HalfOpenProbes: 1, HalfOpenSuccesses: 1, OnStateChange: func(State, State, string) {}})
		require.NoError(t, err)
		if open {
			_ = b.Do(context.Background(), func(context.Context) error { return errDown })
			require.Equal(t, StateOpen, b.State())
		}
		b.Close()
	}
}
