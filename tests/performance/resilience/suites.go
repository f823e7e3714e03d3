// Package resilience holds the performance suites about failure and about leaks: 08 drives
// the retry, breaker and deadline layers of db.Runner against a database that fails on
// purpose, and 09 runs the service long enough to show whether memory, goroutines, pooled
// connections or open transactions are left behind.
package resilience

import (
	"fmt"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"usersvc/tests/performance/perfkit"
)

// Suites returns the suites of this package, in report order.
func Suites() []perfkit.Runner {
	return []perfkit.Runner{
		{ID: retryBreakerID, Run: runRetryBreaker},
		{ID: leaksID, Run: runLeaks},
	}
}

// sized picks the quick or the full size of a phase by the run's profile (anything not
// called "full" is sized like quick).
func sized[T any](env *perfkit.Env, quick, full T) T {
	if env.Profile.Name == "full" {
		return full
	}
	return quick
}

// latencies summarises durations with vegeta's estimator (no hand-rolled percentiles).
type latencies struct {
	m vegeta.LatencyMetrics
	n int
}

func (l *latencies) add(d time.Duration) { l.m.Add(d); l.n++ }

func (l *latencies) quantile(q float64) time.Duration {
	if l.n == 0 {
		return 0
	}
	return l.m.Quantile(q)
}

func (l *latencies) max() time.Duration { return l.m.Max }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fmtMS(d time.Duration) string { return fmt.Sprintf("%.2f ms", ms(d)) }

func pct(part, whole int) float64 {
	if whole == 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}
