package resilience

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"
	backoff "github.com/cenkalti/backoff/v3"
	circuitbreaker "github.com/mercari/go-circuitbreaker"

	"usersvc/platform/requestid"
)

// ErrBreakerOpen is returned, without running the operation, while the breaker is open or
// while its half-open probes are all taken.
var ErrBreakerOpen = errors.New("resilience: circuit breaker open: the database is failing, not trying it now")

// State is the breaker's state.
type State = circuitbreaker.State

// The breaker's states.
const (
	StateClosed   = circuitbreaker.StateClosed
	StateOpen     = circuitbreaker.StateOpen
	StateHalfOpen = circuitbreaker.StateHalfOpen
)

// BreakerConfig configures a Breaker.
type BreakerConfig struct {
	// FailureThreshold failures counted within one Window open the breaker.
	FailureThreshold int64
	// Window is the tumbling counting window (the library resets its counters every Window).
	Window time.Duration
	// OpenTimeout is how long the breaker stays open the first time before letting probes
	// through; each reopening without closing in between doubles it, up to MaxOpenTimeout.
	OpenTimeout    time.Duration
	MaxOpenTimeout time.Duration
	// HalfOpenProbes is how many operations may run at once while half-open; others are
	// rejected as if open.
	HalfOpenProbes int
	// HalfOpenSuccesses successful probes in a row close the breaker.
	HalfOpenSuccesses int64
	// OnStateChange, when set, is told of every transition, with the request id of the
	// call whose outcome caused it ("" when time did: open → half-open). It runs outside
	// the library's lock and may call Breaker.State.
	OnStateChange func(from, to State, requestID string)
	// Clock is for tests; nil means the real clock.
	Clock clock.Clock
}

// Breaker wraps mercari/go-circuitbreaker v0.0.2 and closes its gaps:
//
//   - Its Done recognises Ignore(err) / MarkAsSuccess(err) by type assertion, so a wrapped
//     one counts as a failure. Breaker never uses Done: it classifies each error itself
//     (Classify, through errors.As/Is) and reports success or failure explicitly. Only
//     ClassUnavailable (cannot connect) and ClassTimeout count; client errors, contention,
//     a caller who went away, a connection lost under a statement (ClassConnectionLost: a
//     new one would likely work) and a lost COMMIT (ClassOutcomeUnknown) do not.
//   - Half-open lets every concurrent call through. Breaker admits at most HalfOpenProbes.
//   - The state-change hook runs under the library's lock, so calling State() in it
//     deadlocks. Breaker's hook only records the new state (atomically) and hands the
//     transition to OnStateChange on another goroutine; Breaker.State reads the record.
//   - WithOpenTimeout silently replaces WithOpenTimeoutBackOff. Breaker passes exactly one:
//     the backoff, built from OpenTimeout and MaxOpenTimeout.
type Breaker struct {
	cb       *circuitbreaker.CircuitBreaker
	state    atomic.Value // State, as last reported by the library's hook
	reportMu sync.Mutex   // one outcome reported at a time, so cause names the right request
	cause    atomic.Value // string: request id of the call reporting its outcome (written under reportMu)
	probes   chan struct{}
	notify   chan transition
	done     chan struct{}
	closed   sync.Once
}

type transition struct {
	from, to  State
	requestID string
}

// NewBreaker returns a closed Breaker.
func NewBreaker(cfg BreakerConfig) (*Breaker, error) {
	switch {
	case cfg.FailureThreshold < 1:
		return nil, fmt.Errorf("resilience: breaker failure threshold must be at least 1")
	case cfg.Window <= 0 || cfg.OpenTimeout <= 0:
		return nil, fmt.Errorf("resilience: breaker window and open timeout must be positive")
	case cfg.HalfOpenProbes < 1 || cfg.HalfOpenSuccesses < 1:
		return nil, fmt.Errorf("resilience: breaker needs at least one half-open probe and success")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.New()
	}
	b := &Breaker{probes: make(chan struct{}, cfg.HalfOpenProbes), notify: make(chan transition, 64), done: make(chan struct{})}
	b.state.Store(StateClosed)
	b.cause.Store("")
	b.cb = circuitbreaker.New(
		circuitbreaker.WithClock(cfg.Clock),
		circuitbreaker.WithTripFunc(circuitbreaker.NewTripFuncThreshold(cfg.FailureThreshold)),
		circuitbreaker.WithCounterResetInterval(cfg.Window),
		circuitbreaker.WithOpenTimeoutBackOff(openBackOff(cfg.OpenTimeout, cfg.MaxOpenTimeout)),
		circuitbreaker.WithHalfOpenMaxSuccesses(cfg.HalfOpenSuccesses),
		circuitbreaker.WithOnStateChangeHookFn(func(from, to State) {
			b.state.Store(to) // under the library's lock: record only, never call back into it
			select {
			case <-b.done:
				return // closed: Close's own move to half-open is not a transition to report
			default:
			}
			select {
			case b.notify <- transition{from, to, b.cause.Load().(string)}:
			default: // a listener that cannot keep up loses transitions, never blocks the breaker
			}
		}),
	)
	if cfg.OnStateChange != nil {
		go func() {
			for {
				select {
				case t := <-b.notify:
					cfg.OnStateChange(t.from, t.to, t.requestID)
				case <-b.done:
					return
				}
			}
		}()
	}
	return b, nil
}

func openBackOff(initial, maxTimeout time.Duration) backoff.BackOff {
	if maxTimeout <= initial {
		return backoff.NewConstantBackOff(initial)
	}
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = initial
	bo.MaxInterval = maxTimeout
	bo.Multiplier = 2
	bo.RandomizationFactor = 0
	bo.MaxElapsedTime = 0 // never give up, or the breaker would stay open for good
	bo.Reset()
	return bo
}

// State returns the breaker's current state without taking the library's lock.
func (b *Breaker) State() State { return b.state.Load().(State) }

// Close stops delivering state changes to OnStateChange and stops the library's timers: in
// the closed state it runs a ticker goroutine that only leaving that state stops, so Close
// moves it to half-open, which runs none. Calls after Close are rejected with ErrBreakerOpen.
func (b *Breaker) Close() {
	b.closed.Do(func() {
		close(b.done)
		b.cb.SetState(StateHalfOpen)
	})
}

// Do runs op unless the breaker is open (ErrBreakerOpen) and records its outcome. A call
// whose context is already over runs nothing and records nothing.
func (b *Breaker) Do(ctx context.Context, op func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	select {
	case <-b.done:
		// Closed (the app is shutting down): a late call must not move the library back to
		// closed, which would restart the ticker goroutine Close stopped.
		return ErrBreakerOpen
	default:
	}
	if !b.cb.Ready() {
		return ErrBreakerOpen
	}
	if b.State() == StateHalfOpen {
		select {
		case b.probes <- struct{}{}:
			defer func() { <-b.probes }()
		default:
			return ErrBreakerOpen
		}
	}
	err := op(ctx)
	switch Classify(err) {
	case ClassNone:
		b.report(ctx, b.cb.Success)
	case ClassUnavailable, ClassTimeout:
		b.report(ctx, b.cb.Fail)
	}
	return err
}

// report passes an outcome to the library, naming the request for a transition it causes.
func (b *Breaker) report(ctx context.Context, outcome func()) {
	b.reportMu.Lock()
	defer b.reportMu.Unlock()
	b.cause.Store(requestid.From(ctx))
	outcome()
	b.cause.Store("")
}
