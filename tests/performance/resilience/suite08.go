package resilience

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"

	"usersvc/app"
	"usersvc/tests/performance/perfkit"
	"usersvc/tests/testdb"
)

const retryBreakerID = "08-retry-breaker"

// retrySuite is one run of suite 08: a database of its own with the fault injector, and
// the configuration every app of the suite starts from.
type retrySuite struct {
	env   *perfkit.Env
	dbURL string
	f     *faults
	cfg   app.Config // the defaults, as perfkit.AppEnv configures them for this run
	tag   string     // makes usernames unique per phase
	s     *perfkit.Suite
}

// runRetryBreaker is suite 08. Its faults are real database failures on a database of its
// own (never the run's seeded one): a trigger raising 40001, a trigger that sleeps past the
// statement timeout, and a TCP proxy that refuses connections.
func runRetryBreaker(ctx context.Context, env *perfkit.Env) (s perfkit.Suite, err error) {
	s = perfkit.Suite{
		ID:    retryBreakerID,
		Title: "Retry and circuit breaker under load",
		Summary: "The real service in-process (db.Runner with its retry, retry budget, breaker and " +
			"operation deadline) against a database of the suite's own into which failures are injected: " +
			"a BEFORE INSERT trigger on users raising SQLSTATE 40001 at random (attempts counted exactly " +
			"with sequences, which survive rollbacks), a trigger sleeping past statement_timeout, and a TCP " +
			"proxy (tests/faultkit) that refuses every connection. Measured: success rate and attempts per " +
			"operation under 30% transient failures, breaker opening and rejected-request latency under a " +
			"sustained outage, answer times when statements hang, the backoff waits between attempts, and " +
			"the attempts a retry storm of 100 concurrent operations costs.",
	}
	dbURL, drop, err := testdb.Create("perf_resilience")
	if err != nil {
		return s, err
	}
	defer func() {
		if derr := drop(); derr != nil && err == nil {
			err = derr
		}
	}()
	if err := perfkit.Migrate(ctx, dbURL); err != nil {
		return s, err
	}
	f, err := installFaults(ctx, dbURL)
	if err != nil {
		return s, err
	}
	defer f.close()
	cfg, err := app.LoadConfig("", perfkit.AppEnv(dbURL, env.PoolSize))
	if err != nil {
		return s, err
	}
	r := &retrySuite{env: env, dbURL: dbURL, f: f, cfg: cfg, tag: randomTag(), s: &s}
	for _, phase := range []struct {
		name string
		run  func(context.Context) error
	}{
		{"transient failures", r.transient},
		{"sustained failure", r.sustained},
		{"timeouts", r.timeouts},
		{"backoff", r.backoff},
		{"retry storm", r.storm},
	} {
		if err := phase.run(ctx); err != nil {
			return s, fmt.Errorf("%s: %s: %w", retryBreakerID, phase.name, err)
		}
		// A phase that failed half-way must not leave its fault on for the next one.
		if err := f.set(context.WithoutCancel(ctx), fault{}); err != nil {
			return s, err
		}
	}
	return s, nil
}

func randomTag() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// phaseTag makes the usernames of one phase unique within the suite's database.
func (r *retrySuite) phaseTag(phase string) string { return r.tag + phase }

func setting(key string, v any) string {
	return "USERSVC_" + key + "=" + fmt.Sprint(v)
}

func itoa(n int) string { return strconv.Itoa(n) }

// errOther keeps the first unexpected error of a phase for its note.
type errOther struct{ first error }

func (e *errOther) keep(err error) {
	if e.first == nil && err != nil {
		e.first = err
	}
}

func (e *errOther) note(phase string) string {
	if e.first == nil {
		return ""
	}
	return phase + ": first unexpected error: " + e.first.Error()
}
