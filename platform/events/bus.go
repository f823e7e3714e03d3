package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"gorm.io/gorm"

	"usersvc/platform/actor"
	"usersvc/platform/db"
)

// queue is the River queue events are delivered from.
const queue = "events"

// Config configures a Bus.
type Config struct {
	// Consume runs the delivery workers (and, on the elected leader, the periodic jobs) on
	// this instance; without it the Bus only publishes.
	Consume      bool
	Workers      int           // deliveries running at once on this instance
	PollInterval time.Duration // how often idle workers look for new events
	// MaxAttempts failed deliveries make an event a dead letter for its subscriber.
	MaxAttempts int
	// RetryBackoff is the wait after the first failure; it doubles after each, up to
	// RetryBackoffMax.
	RetryBackoff, RetryBackoffMax time.Duration
	JobTimeout                    time.Duration // a delivery running longer is cancelled, and retried
	RescueAfter                   time.Duration // a delivery whose instance died is retried after this
	ReceiptRetention              time.Duration // how long receipts (handled event ids) are kept
	Periodic                      []Periodic
	Logger                        *slog.Logger
}

// Periodic is a job that one instance (River's elected leader) runs every Interval, and once
// when it becomes leader.
type Periodic struct {
	Name     string
	Interval time.Duration
	Run      func(ctx context.Context) error
}

// Bus publishes events in business transactions and delivers them to subscribers.
type Bus struct {
	client   *river.Client[*sql.Tx]
	db       db.Transactor
	cfg      Config
	now      func() time.Time
	mu       sync.RWMutex
	handlers map[route]Handler
	types    map[string][]string // event type → subscribers
	started  bool
	life     sync.Mutex // serialises Start and Stop
	stopped  bool       // by Stop: a later Start does nothing
	metrics  *metrics
	stopSub  func()
	subDone  chan struct{}
}

type route struct{ subscriber, typ string }

// New returns a Bus over sqlDB (the pool River uses) and runner (through which deliveries
// run their transactions, with the resilience layers). Subscribe, then Start.
func New(sqlDB *sql.DB, runner db.Transactor, cfg Config) (*Bus, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Bus{db: runner, cfg: cfg, now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
		handlers: map[route]Handler{}, types: map[string][]string{}, metrics: newMetrics(sqlDB)}
	rc := &river.Config{
		MaxAttempts:                 cfg.MaxAttempts,
		Logger:                      slog.New(warnings{cfg.Logger.Handler()}),
		DiscardedJobRetentionPeriod: -1, // dead letters stay until retried or deleted by hand
	}
	if cfg.Consume {
		b.cfg.Periodic = append(slices.Clone(cfg.Periodic), b.receiptCleanup())
		workers := river.NewWorkers()
		river.AddWorker(workers, &deliverer{bus: b})
		river.AddWorker(workers, &periodicWorker{jobs: b.cfg.Periodic})
		rc.Workers = workers
		rc.Queues = map[string]river.QueueConfig{queue: {MaxWorkers: max(cfg.Workers, 1)}}
		rc.FetchPollInterval = cfg.PollInterval
		rc.FetchCooldown = min(cfg.PollInterval, 100*time.Millisecond)
		rc.JobTimeout = cfg.JobTimeout
		rc.RescueStuckJobsAfter = max(cfg.RescueAfter, cfg.JobTimeout)
		rc.RetryPolicy = backoff{initial: cfg.RetryBackoff, max: cfg.RetryBackoffMax}
		rc.PeriodicJobs = periodicJobs(b.cfg.Periodic)
	}
	client, err := river.NewClient(riverdatabasesql.New(sqlDB), rc)
	if err != nil {
		return nil, fmt.Errorf("events: new river client: %w", err)
	}
	b.client = client
	return b, nil
}

// Subscribe registers handlers; it must come before Start (and before any Publish that
// should reach them).
func (b *Bus) Subscribe(subs ...Subscription) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started {
		return errors.New("events: subscribe after start")
	}
	for _, s := range subs {
		r := route{s.Subscriber, s.Type}
		if _, dup := b.handlers[r]; dup {
			return fmt.Errorf("events: %s subscribes to %s twice", s.Subscriber, s.Type)
		}
		b.handlers[r] = s.Handle
		b.types[s.Type] = append(b.types[s.Type], s.Subscriber)
	}
	return nil
}

// Subscribers lists who handles events of typ.
func (b *Bus) Subscribers(typ string) []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return slices.Clone(b.types[typ])
}

// Publish implements Publisher: one delivery job per event and subscriber of typ, in tx.
func (b *Bus) Publish(ctx context.Context, tx *gorm.DB, typ string, payloads ...any) error {
	subscribers := b.Subscribers(typ)
	if len(subscribers) == 0 || len(payloads) == 0 {
		return nil // nobody listens: nothing to deliver
	}
	sqlTx, err := sqlTxOf(tx)
	if err != nil {
		return err
	}
	params := make([]river.InsertManyParams, 0, len(payloads)*len(subscribers))
	at := b.now()
	for _, payload := range payloads {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("events: new id: %w", err)
		}
		raw, err := marshal(payload)
		if err != nil {
			return fmt.Errorf("events: %s: payload: %w", typ, err)
		}
		ev := Event{ID: id, Type: typ, At: at, Payload: raw, Actor: actor.From(ctx)}
		for _, s := range subscribers {
			params = append(params, river.InsertManyParams{Args: delivery{Subscriber: s, Event: ev},
				InsertOpts: &river.InsertOpts{Queue: queue, MaxAttempts: b.cfg.MaxAttempts}})
		}
	}
	if _, err := b.client.InsertManyTx(ctx, sqlTx, params); err != nil {
		return fmt.Errorf("events: publish %s: %w", typ, err)
	}
	return nil
}

// Start starts delivering (when Config.Consume); a Bus that only publishes has nothing to
// start.
func (b *Bus) Start(ctx context.Context) error {
	b.life.Lock()
	defer b.life.Unlock()
	b.mu.Lock()
	b.started = true
	b.mu.Unlock()
	if !b.cfg.Consume || b.stopped {
		return nil
	}
	ch, cancel := b.client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
	refreshCtx, stopRefresh := context.WithCancel(context.WithoutCancel(ctx))
	b.stopSub, b.subDone = func() { cancel(); stopRefresh() }, make(chan struct{})
	var watchers sync.WaitGroup
	watchers.Go(func() {
		for ev := range ch {
			b.metrics.observe(ev)
		}
	})
	watchers.Go(func() { b.metrics.refresh(refreshCtx) })
	go func() { watchers.Wait(); close(b.subDone) }()
	if err := b.client.Start(ctx); err != nil {
		b.stopSubscription()
		b.mu.Lock()
		b.started = false
		b.mu.Unlock()
		return fmt.Errorf("events: start: %w", err)
	}
	return nil
}

// Stop stops fetching and waits for the deliveries running now (up to ctx). A Start after
// it does nothing.
func (b *Bus) Stop(ctx context.Context) error {
	b.life.Lock()
	defer b.life.Unlock()
	wasRunning := b.cfg.Consume && b.isStarted() && !b.stopped
	b.stopped = true
	if !wasRunning {
		return nil
	}
	err := b.client.Stop(ctx)
	b.stopSubscription()
	if err != nil {
		return fmt.Errorf("events: stop: %w", err)
	}
	return nil
}

func (b *Bus) isStarted() bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.started
}

func (b *Bus) stopSubscription() {
	if b.stopSub != nil {
		b.stopSub()
		<-b.subDone
		b.stopSub = nil
	}
}

func (b *Bus) handler(subscriber, typ string) (Handler, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	h, ok := b.handlers[route{subscriber, typ}]
	return h, ok
}

// sqlTxOf finds the *sql.Tx under GORM's transaction, which River inserts in.
func sqlTxOf(tx *gorm.DB) (*sql.Tx, error) {
	switch cp := tx.Statement.ConnPool.(type) {
	case *sql.Tx:
		return cp, nil
	case *gorm.PreparedStmtTX:
		if t, ok := cp.Tx.(*sql.Tx); ok {
			return t, nil
		}
	}
	return nil, errors.New("events: publish needs the transaction of the change (call it inside Transact)")
}
