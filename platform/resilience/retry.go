package resilience

import (
	"context"
	"fmt"
	"time"

	"github.com/sethvargo/go-retry"
)

// RetryPolicy retries an operation with exponential backoff and jitter, bounded by a number of
// attempts and by a total time. It is a value: each Do builds a fresh backoff (go-retry's
// backoffs are stateful and must not be shared between calls).
type RetryPolicy struct {
	MaxAttempts    int           // tries in all, the first included; 1 disables retrying
	InitialBackoff time.Duration // wait before the second try; doubles after each
	MaxBackoff     time.Duration // cap on one wait
	MaxElapsed     time.Duration // cap on the time spent waiting and trying
}

// JitterPercent spreads waits by ±25% so that callers who failed together do not retry
// together.
const JitterPercent = 25

func (p RetryPolicy) backoff() retry.Backoff {
	b := retry.NewExponential(p.InitialBackoff)
	b = retry.WithJitterPercent(JitterPercent, b)
	b = retry.WithCappedDuration(p.MaxBackoff, b)
	b = retry.WithMaxRetries(uint64(max(p.MaxAttempts-1, 0)), b)
	return retry.WithMaxDuration(p.MaxElapsed, b)
}

// Do runs op until it succeeds, fails with an error retryable does not accept, or the policy
// or ctx runs out. It returns the number of attempts made and the last error of op — when ctx
// ends the wait, that error joined with the context's, so the caller still sees what failed.
func (p RetryPolicy) Do(ctx context.Context, retryable func(error) bool, op func(context.Context) error) (int, error) {
	attempts := 0
	var last error
	// The backoff is built on the first failure: most operations succeed at once, and
	// building it costs five allocations on every database call.
	var b retry.Backoff
	lazy := retry.BackoffFunc(func() (time.Duration, bool) {
		if b == nil {
			b = p.backoff()
		}
		return b.Next()
	})
	err := retry.Do(ctx, lazy, func(ctx context.Context) error {
		attempts++
		last = op(ctx)
		if last != nil && retryable(last) {
			return retry.RetryableError(last)
		}
		return last
	})
	if err != nil && last != nil && err != last && ctx.Err() != nil {
		return attempts, fmt.Errorf("%w (retrying stopped: %w)", last, err)
	}
	return attempts, err
}
