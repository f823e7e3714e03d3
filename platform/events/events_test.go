package events_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"usersvc/migrations"
	"usersvc/platform/db"
	"usersvc/platform/events"
	"usersvc/platform/resilience"
	"usersvc/tests/testdb"
)

// dbURL is a database of this run with the event store migrated, and an effects table the
// test handlers write to.
var dbURL string

func TestMain(m *testing.M) {
	var drop func() error
	var err error
	if dbURL, drop, err = testdb.Create("platform_events"); err == nil {
		err = migrate()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		if drop != nil {
			_ = drop()
		}
		os.Exit(1)
	}
	code := m.Run()
	if err := drop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

func migrate() error {
	gdb, err := open()
	if err != nil {
		return err
	}
	defer db.Close(gdb)
	if _, err := migrations.NewRunner(gdb, events.Migrations(), migrations.Options{LockTimeout: time.Minute,
		Logger: slog.New(slog.DiscardHandler)}).Up(context.Background(), ""); err != nil {
		return err
	}
	return gdb.Exec(`CREATE TABLE effects (event_id uuid NOT NULL, subscriber text NOT NULL, instance text NOT NULL)`).Error
}

func open() (*gorm.DB, error) {
	return db.Open(context.Background(), db.Config{URL: dbURL, ApplicationName: "platform_events_test",
		StatementTimeout: 5 * time.Second, MaxOpenConns: 8, MaxIdleConns: 8, ConnectTimeout: 5 * time.Second},
		slog.New(slog.DiscardHandler))
}

// instance is one process's worth of the bus: its own pool, Runner and River client.
type instance struct {
	name   string
	runner *db.Runner
	bus    *events.Bus
}

// newInstance builds a bus with fast polling and retries; consume starts its workers.
func newInstance(t *testing.T, name string, consume bool, maxAttempts int, subs ...events.Subscription) *instance {
	t.Helper()
	gdb, err := open()
	require.NoError(t, err)
	breaker, err := resilience.NewBreaker(resilience.BreakerConfig{FailureThreshold: 100, Window: time.Minute,
		OpenTimeout: time.Second, HalfOpenProbes: 1, HalfOpenSuccesses: 1})
	require.NoError(t, err)
	runner := db.NewRunner(gdb, db.RunnerConfig{Breaker: breaker, Budget: 5 * time.Second,
		Retry: resilience.RetryPolicy{MaxAttempts: 3, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, MaxElapsed: time.Second}})
	sqlDB, err := gdb.DB()
	require.NoError(t, err)
	bus, err := events.New(sqlDB, runner, events.Config{Consume: consume, Workers: 4, PollInterval: 50 * time.Millisecond,
		MaxAttempts: maxAttempts, RetryBackoff: 20 * time.Millisecond, RetryBackoffMax: 100 * time.Millisecond,
		JobTimeout: 10 * time.Second, RescueAfter: time.Minute, ReceiptRetention: time.Hour,
		Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.NoError(t, bus.Subscribe(subs...))
	require.NoError(t, bus.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, bus.Stop(ctx))
		breaker.Close()
		assert.NoError(t, db.Close(gdb))
	})
	return &instance{name: name, runner: runner, bus: bus}
}

// record is a handler that writes an effect row in the delivery's transaction.
func (in *instance) record(subscriber string) events.Handler {
	return func(ctx context.Context, ev events.Event) error {
		return in.runner.Transact(ctx, func(tx *gorm.DB) error {
			return tx.Exec(`INSERT INTO effects (event_id, subscriber, instance) VALUES (?, ?, ?)`, ev.ID, subscriber, in.name).Error
		})
	}
}

// publish publishes one event of typ per payload in one transaction of in, and returns the
// event ids as the effects will show them.
func publish(t *testing.T, in *instance, typ string, payloads ...any) {
	t.Helper()
	require.NoError(t, in.runner.Transact(context.Background(), func(tx *gorm.DB) error {
		return in.bus.Publish(context.Background(), tx, typ, payloads...)
	}))
}

// effects counts the effect rows of subscriber, by event id.
func effects(t *testing.T, in *instance, subscriber string) map[uuid.UUID]int {
	t.Helper()
	var rows []struct {
		EventID uuid.UUID
		N       int
	}
	require.NoError(t, in.runner.Read(context.Background(), func(tx *gorm.DB) error {
		return tx.Raw(`SELECT event_id, count(*) AS n FROM effects WHERE subscriber = ? GROUP BY 1`, subscriber).Scan(&rows).Error
	}))
	out := map[uuid.UUID]int{}
	for _, r := range rows {
		out[r.EventID] = r.N
	}
	return out
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fresh makes a subscriber or event type name of this test run (-count reruns share the
// database).
func fresh(base string) string { return base + "_" + uuid.NewString()[:8] }

func sub(subscriber, typ string, h events.Handler) events.Subscription {
	return events.Subscription{Subscriber: subscriber, Type: typ, Handle: h}
}

// A change rolled back publishes nothing: no job exists, nothing is delivered.
func TestRollbackPublishesNothing(t *testing.T) {
	var handled atomic.Int32
	rb, typ := fresh("rb"), fresh("rb.happened")
	in := newInstance(t, "a", true, 5, sub(rb, typ, func(context.Context, events.Event) error {
		handled.Add(1)
		return nil
	}))
	errRollback := errors.New("changed my mind")
	err := in.runner.Transact(context.Background(), func(tx *gorm.DB) error {
		if err := in.bus.Publish(context.Background(), tx, typ, map[string]int{"n": 1}); err != nil {
			return err
		}
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)
	pending, err := in.bus.List(context.Background(), events.ListAll, 100)
	require.NoError(t, err)
	for _, d := range pending {
		assert.NotEqual(t, rb, d.Subscriber, "a rolled-back event was stored: %+v", d)
	}
	publish(t, in, typ, map[string]int{"n": 2}) // a committed one, as the control
	eventually(t, "the committed event", func() bool { return handled.Load() == 1 })
	time.Sleep(200 * time.Millisecond) // four polls more: the rolled-back one would have come by now
	assert.EqualValues(t, 1, handled.Load())
}

// A handler failing three times, then succeeding: retried with backoff, and its effect
// happens once — the failed attempts' writes were rolled back with them.
func TestFailingHandlerIsRetriedUntilItSucceeds(t *testing.T) {
	var in *instance
	var attempts atomic.Int32
	flaky, typ := fresh("flaky"), fresh("flaky.happened")
	in = newInstance(t, "a", true, 10, sub(flaky, typ, func(ctx context.Context, ev events.Event) error {
		if err := in.record(flaky)(ctx, ev); err != nil {
			return err
		}
		if attempts.Add(1) <= 3 {
			return errors.New("not yet")
		}
		return nil
	}))
	publish(t, in, typ, "once")
	eventually(t, "the fourth attempt", func() bool { return len(effects(t, in, flaky)) == 1 })
	for id, n := range effects(t, in, flaky) {
		assert.Equal(t, 1, n, "event %s: effect once", id)
	}
	assert.EqualValues(t, 4, attempts.Load())
}

// A poison event becomes a dead letter after MaxAttempts, without holding back the events
// published after it; listed as dead with its last error, it can be retried once fixed, and
// is then handled once.
func TestPoisonEventIsADeadLetterAndBlocksNothing(t *testing.T) {
	var in *instance
	var fixed atomic.Bool
	picky, typ := fresh("picky"), fresh("picky.happened")
	in = newInstance(t, "a", true, 3, sub(picky, typ, func(ctx context.Context, ev events.Event) error {
		var p struct{ Poison bool }
		if err := ev.Decode(&p); err != nil {
			return err
		}
		if p.Poison && !fixed.Load() {
			return errors.New("cannot digest this")
		}
		return in.record(picky)(ctx, ev)
	}))
	publish(t, in, typ, map[string]bool{"poison": true})
	for range 5 {
		publish(t, in, typ, map[string]bool{"poison": false})
	}
	eventually(t, "the good events", func() bool { return len(effects(t, in, picky)) == 5 })
	var dead []events.Delivery
	eventually(t, "the poison event to be a dead letter", func() bool {
		all, err := in.bus.List(context.Background(), events.ListDead, 1000)
		require.NoError(t, err)
		dead = dead[:0]
		for _, d := range all {
			if d.Subscriber == picky {
				dead = append(dead, d)
			}
		}
		return len(dead) == 1
	})
	assert.Equal(t, picky, dead[0].Subscriber)
	assert.Equal(t, 3, dead[0].Attempts)
	assert.Contains(t, dead[0].LastError, "cannot digest this")

	// /metrics: this instance's failed attempts and dead letters, and the store's dead letters
	// (read every few seconds in the background).
	reg := prometheus.NewRegistry()
	reg.MustRegister(in.bus.Collector("test"))
	metric := func(name string) float64 {
		families, err := reg.Gather()
		require.NoError(t, err)
		for _, f := range families {
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if f.GetName() == name && l.GetName() == "subscriber" && l.GetValue() == picky {
						return m.GetCounter().GetValue() + m.GetGauge().GetValue()
					}
				}
			}
		}
		return -1
	}
	assert.EqualValues(t, 3, metric("test_events_failed_attempts_total"))
	assert.EqualValues(t, 1, metric("test_events_dead_lettered_total"))
	assert.EqualValues(t, 5, metric("test_events_delivered_total"))
	eventually(t, "the dead letter in the store's figures", func() bool { return metric("test_events_dead_letters") == 1 })
	assert.EqualValues(t, 0, metric("test_events_pending"))

	fixed.Store(true)
	require.NoError(t, in.bus.Retry(context.Background(), dead[0].JobID))
	eventually(t, "the retried dead letter", func() bool { return len(effects(t, in, picky)) == 6 })
	// Retried again after it was handled: the receipt says so, nothing happens twice.
	require.NoError(t, in.bus.Retry(context.Background(), dead[0].JobID))
	time.Sleep(300 * time.Millisecond)
	for id, n := range effects(t, in, picky) {
		assert.Equal(t, 1, n, "event %s", id)
	}
}

// Two instances consume the same store: every event is handled once by effect, each by one
// instance, and both instances take a share.
func TestTwoInstancesHandleEachEventOnce(t *testing.T) {
	const n = 200
	shared, typ := fresh("shared"), fresh("shared.happened")
	writer := newInstance(t, "w", false, 5) // its Runner joins the delivery's transaction in ctx
	handler := func(name string) events.Handler {
		return func(ctx context.Context, ev events.Event) error {
			time.Sleep(time.Millisecond) // long enough for the other instance to fetch too
			return (&instance{name: name, runner: writer.runner}).record(shared)(ctx, ev)
		}
	}
	a := newInstance(t, "a", true, 5, sub(shared, typ, handler("a")))
	newInstance(t, "b", true, 5, sub(shared, typ, handler("b")))
	payloads := make([]any, n)
	for i := range payloads {
		payloads[i] = i
	}
	publish(t, a, typ, payloads...)
	eventually(t, "every event", func() bool { return len(effects(t, a, shared)) == n })
	for id, c := range effects(t, a, shared) {
		require.Equal(t, 1, c, "event %s handled %d times", id, c)
	}
	var byInstance []struct {
		Instance string
		N        int
	}
	require.NoError(t, a.runner.Read(context.Background(), func(tx *gorm.DB) error {
		return tx.Raw(`SELECT instance, count(*) AS n FROM effects WHERE subscriber = ? GROUP BY 1 ORDER BY 1`, shared).Scan(&byInstance).Error
	}))
	t.Logf("handled by instance: %+v", byInstance)
	require.Len(t, byInstance, 2, "both instances took a share")
}

// Every subscriber gets its own delivery of an event, and a publish-only instance stores
// events that a consuming one delivers.
func TestEverySubscriberGetsTheEvent(t *testing.T) {
	one, two, typ := fresh("one"), fresh("two"), fresh("fan.out")
	publisher := newInstance(t, "p", false, 5)
	subs := []events.Subscription{sub(one, typ, publisher.record(one)), sub(two, typ, publisher.record(two))}
	if err := publisher.bus.Subscribe(subs...); err == nil {
		t.Fatal("subscribing after Start must fail")
	}
	publisher = newInstance(t, "p", false, 5, subs...)
	publish(t, publisher, typ, "hello")
	pending, err := publisher.bus.List(context.Background(), events.ListPending, 1000)
	require.NoError(t, err)
	waiting := map[string]int{}
	for _, d := range pending {
		waiting[d.Subscriber]++
	}
	require.Equal(t, 1, waiting[one], "one delivery per subscriber, waiting: %+v", pending)
	require.Equal(t, 1, waiting[two], "one delivery per subscriber, waiting: %+v", pending)
	newInstance(t, "c", true, 5, subs...)
	eventually(t, "both deliveries", func() bool {
		return len(effects(t, publisher, one)) == 1 && len(effects(t, publisher, two)) == 1
	})
}
