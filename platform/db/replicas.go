package db

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"

	"usersvc/platform/resilience"
)

// ReplicasConfig is what NewReplicas needs.
type ReplicasConfig struct {
	// MaxStaleness: a replica is used only while it is known to have replayed everything the
	// primary had written this long ago.
	MaxStaleness time.Duration
	// Wait bounds how long a read with a consistency token waits for a replica to replay that
	// far before it goes to the primary instead.
	Wait time.Duration
	// Interval is how often the primary's WAL position and each replica's replay position
	// are sampled.
	Interval time.Duration
	Logger   *slog.Logger
}

// Replica is one read replica: its pool and its own circuit breaker.
type Replica struct {
	Name    string // for logs and metrics
	DB      *gorm.DB
	Breaker *resilience.Breaker
}

// Replicas serves reads from streaming replicas with bounded staleness.
//
// Staleness is measured, not guessed from timestamps: every Interval the primary's WAL
// position is sampled with the time, and each replica's replay position is read. A replica
// that has replayed past the primary's position at time t has every commit made before t,
// so it is at most now−t stale; it is used while that bound is within MaxStaleness (an idle
// primary keeps its position, so a caught-up replica stays usable). A replica that fails,
// or is not a standby in recovery (pg_last_wal_replay_lsn() is NULL), is left out until a
// sample finds it well again; reads it fails go to the primary.
type Replicas struct {
	primary *gorm.DB
	members []*member
	cfg     ReplicasConfig
	next    atomic.Uint32 // round robin

	mu      sync.Mutex
	samples []sample // the primary's positions, oldest first

	served    *prometheus.CounterVec
	staleness *prometheus.GaugeVec
}

type sample struct {
	at  time.Time
	lsn LSN
}

type member struct {
	Replica
	replayed atomic.Uint64 // last replay position read
	fresh    atomic.Int64  // unix ns until which the member is usable; 0: not usable
}

// NewReplicas returns the set over primary and replicas; Run samples them.
func NewReplicas(primary *gorm.DB, replicas []Replica, cfg ReplicasConfig, reg prometheus.Registerer, namespace string) *Replicas {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Replicas{primary: primary, cfg: cfg,
		served: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "db", Name: "reads_served_total",
			Help: "Reads that could go to a replica, by the pool that served them (primary or a replica's name).",
		}, []string{"pool"}),
		staleness: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "db", Name: "replica_staleness_seconds",
			Help: "Upper bound on how far each replica is behind the primary, as last measured; -1: unusable.",
		}, []string{"replica"}),
	}
	for _, r := range replicas {
		s.members = append(s.members, &member{Replica: r})
	}
	if reg != nil {
		reg.MustRegister(s.served, s.staleness)
	}
	return s
}

// Run samples positions every Interval until ctx ends.
func (s *Replicas) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		s.Sample(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sample reads the primary's position and each replica's replay position once.
func (s *Replicas) Sample(ctx context.Context) {
	// Generous: a sample that times out on a busy machine counts against the replica's
	// breaker and could keep a healthy replica out for its open period.
	ctx, cancel := context.WithTimeout(ctx, max(4*s.cfg.Interval, time.Second))
	defer cancel()
	if lsn, err := position(ctx, s.primary, "pg_current_wal_lsn()"); err == nil {
		s.mu.Lock()
		s.samples = append(s.samples, sample{at: time.Now(), lsn: lsn})
		// Older samples than the bound can no longer make a replica usable; one is kept.
		cut := 0
		for cut < len(s.samples)-1 && time.Since(s.samples[cut+1].at) > s.cfg.MaxStaleness {
			cut++
		}
		s.samples = s.samples[cut:]
		s.mu.Unlock()
	}
	for _, m := range s.members {
		s.sampleMember(ctx, m)
	}
}

func (s *Replicas) sampleMember(ctx context.Context, m *member) {
	var lsn LSN
	err := m.Breaker.Do(ctx, func(ctx context.Context) error {
		var err error
		lsn, err = position(ctx, m.DB, "pg_last_wal_replay_lsn()")
		return err
	})
	if err != nil {
		if m.fresh.Swap(0) != 0 {
			s.cfg.Logger.Warn("replica left out of reads", "replica", m.Name, "err", err)
		}
		s.staleness.WithLabelValues(m.Name).Set(-1)
		return
	}
	m.replayed.Store(uint64(lsn))
	// The newest primary sample the replica has replayed past dates what it surely has.
	var at time.Time
	s.mu.Lock()
	for i := len(s.samples) - 1; i >= 0; i-- {
		if s.samples[i].lsn <= lsn {
			at = s.samples[i].at
			break
		}
	}
	s.mu.Unlock()
	if at.IsZero() {
		m.fresh.Store(0)
		s.staleness.WithLabelValues(m.Name).Set(-1)
		return
	}
	// Usable until it would be MaxStaleness behind that sample, unless a later sample
	// extends it.
	m.fresh.Store(at.Add(s.cfg.MaxStaleness).UnixNano())
	s.staleness.WithLabelValues(m.Name).Set(time.Since(at).Seconds())
}

// errNotStandby: the server answered NULL for its replay position: it is not in recovery.
var errNotStandby = errors.New("db: replica is not a standby (not in recovery)")

func position(ctx context.Context, gdb *gorm.DB, fn string) (LSN, error) {
	var text sql.NullString
	if err := gdb.WithContext(ctx).Raw("SELECT " + fn + "::text").Scan(&text).Error; err != nil {
		return 0, err
	}
	if !text.Valid {
		return 0, errNotStandby
	}
	return ParseLSN(text.String)
}

// choose returns a replica to serve a read that must see after (0: any), or nil for the
// primary. A replica that has not replayed that far yet is asked again until Wait is over.
func (s *Replicas) choose(ctx context.Context, after LSN) *member {
	now := time.Now().UnixNano()
	n := len(s.members)
	start := int(s.next.Add(1))
	var lagging *member
	for i := range n {
		m := s.members[(start+i)%n]
		if m.fresh.Load() < now || m.Breaker.State() == resilience.StateOpen {
			continue
		}
		if LSN(m.replayed.Load()) >= after {
			return m
		}
		if lagging == nil {
			lagging = m
		}
	}
	if lagging == nil || s.cfg.Wait <= 0 {
		return nil
	}
	return s.await(ctx, lagging, after)
}

// await polls m's replay position until it reaches after, for at most Wait.
func (s *Replicas) await(ctx context.Context, m *member, after LSN) *member {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Wait)
	defer cancel()
	for wait := time.Millisecond; ; wait = min(wait*2, 20*time.Millisecond) {
		lsn, err := position(ctx, m.DB, "pg_last_wal_replay_lsn()")
		if err != nil {
			return nil
		}
		if lsn > LSN(m.replayed.Load()) {
			m.replayed.Store(uint64(lsn))
		}
		if lsn >= after {
			return m
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// read runs fn on a replica when ctx allows one (ReadFromReplica) and one qualifies; served
// is false when the primary must serve it: no replica qualified, or the chosen one failed as
// a server (it is left out until the next sample finds it well).
func (s *Replicas) read(ctx context.Context, fn func(*gorm.DB) error) (served bool, err error) {
	after, ok := replicaRead(ctx)
	if !ok {
		return false, nil // not a read that may go to a replica: not counted
	}
	if m := s.choose(ctx, after); m != nil {
		err := m.Breaker.Do(ctx, func(ctx context.Context) error { return fn(m.DB.WithContext(ctx)) })
		if !s.failedAsServer(ctx, m, err) {
			s.served.WithLabelValues(m.Name).Inc()
			return true, err
		}
	}
	s.served.WithLabelValues("primary").Inc()
	return false, nil
}

// failedAsServer reports whether err from m is the replica failing rather than the read's
// own outcome, and leaves a failing replica out until the next sample.
func (s *Replicas) failedAsServer(ctx context.Context, m *member, err error) bool {
	if errors.Is(err, resilience.ErrBreakerOpen) {
		return true // opened since choose looked
	}
	switch resilience.Classify(err) {
	// ClassContention: a standby cancels a query that conflicts with replaying the primary's
	// changes (40001, "conflict with recovery"); the primary has no such conflict.
	case resilience.ClassConnectionLost, resilience.ClassUnavailable, resilience.ClassTimeout, resilience.ClassContention:
		if ctx.Err() != nil {
			return false // the caller's deadline or departure, not the replica's failure
		}
		m.fresh.Store(0)
		s.cfg.Logger.Warn("replica read failed; served by the primary", "replica", m.Name, "err", err)
		return true
	}
	return false
}

// recordCommit stores the primary's WAL position, taken after a commit, in the Commits of
// ctx, if any. When it cannot be read the write stands; the position recorded is then the
// highest there is, so reads presenting it go to the primary, which has the write.
func recordCommit(ctx context.Context, primary *gorm.DB, log *slog.Logger) {
	c, ok := ctx.Value(commitsKey{}).(*Commits)
	if !ok {
		return
	}
	lsn, err := position(ctx, primary, "pg_current_wal_lsn()")
	if err != nil {
		log.WarnContext(ctx, "WAL position after commit unknown: the consistency token sends reads to the primary", "err", err)
		lsn = LSN(^uint64(0))
	}
	c.add(lsn)
}
