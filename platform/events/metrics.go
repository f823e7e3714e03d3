package events

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// metrics counts what this instance delivered, and what waits in the event store for every
// instance: read every refreshEvery by a consuming instance, so a scrape never waits for the
// database (it may be the thing that is down).
type metrics struct {
	sqlDB                        *sql.DB
	delivered, failed, discarded *prometheus.Desc
	pending, dead, oldest        *prometheus.Desc

	mu    sync.Mutex
	seen  map[string]*[3]float64 // delivered, failed, discarded by subscriber
	store []prometheus.Metric    // the store's figures as last read
}

// refreshEvery is how often a consuming instance reads the store's figures.
const refreshEvery = 5 * time.Second

func newMetrics(sqlDB *sql.DB) *metrics {
	return &metrics{sqlDB: sqlDB, seen: map[string]*[3]float64{}}
}

// Collector registers the Bus's metrics under namespace: usersvc_events_….
func (b *Bus) Collector(namespace string) prometheus.Collector {
	m := b.metrics
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "events", name), help, labels, nil)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.delivered = desc("delivered_total", "Events this instance delivered (handled, or found handled already), by subscriber.", "subscriber")
	m.failed = desc("failed_attempts_total", "Failed delivery attempts on this instance, by subscriber (each is retried or becomes a dead letter).", "subscriber")
	m.discarded = desc("dead_lettered_total", "Events that became dead letters on this instance after their last attempt failed, by subscriber.", "subscriber")
	m.pending = desc("pending", "Events waiting to be delivered (new, running, or to be retried), by subscriber; all instances.", "subscriber")
	m.dead = desc("dead_letters", "Events whose delivery gave up (see `server events list --state dead`), by subscriber; all instances.", "subscriber")
	m.oldest = desc("oldest_pending_age_seconds", "Age of the oldest event waiting to be delivered; 0 when none waits.")
	return m
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.delivered
	ch <- m.failed
	ch <- m.discarded
	ch <- m.pending
	ch <- m.dead
	ch <- m.oldest
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for sub, c := range m.seen {
		for i, d := range []*prometheus.Desc{m.delivered, m.failed, m.discarded} {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, c[i], sub)
		}
	}
	for _, metric := range m.store {
		ch <- metric
	}
}

// refresh reads the store's figures every refreshEvery until ctx ends.
func (m *metrics) refresh(ctx context.Context) {
	for {
		m.read(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(refreshEvery):
		}
	}
}

// read queries the store's figures (bounded by a second); on failure the last figures stay.
// Nothing is read before Collector named the metrics.
func (m *metrics) read(ctx context.Context) {
	m.mu.Lock()
	pendingDesc, deadDesc, oldestDesc := m.pending, m.dead, m.oldest
	m.mu.Unlock()
	if pendingDesc == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	rows, err := m.sqlDB.QueryContext(ctx, `SELECT args->>'subscriber',
			count(*) FILTER (WHERE state NOT IN ('completed', 'cancelled', 'discarded')),
			count(*) FILTER (WHERE state = 'discarded'),
			coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE state NOT IN ('completed', 'cancelled', 'discarded'))), 0)
		FROM river_job WHERE kind = 'event' GROUP BY 1`)
	if err != nil {
		return
	}
	defer rows.Close()
	oldest := 0.0
	var read []prometheus.Metric
	for rows.Next() {
		var sub string
		var pending, dead int64
		var age float64
		if rows.Scan(&sub, &pending, &dead, &age) != nil {
			return
		}
		read = append(read, prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(pending), sub),
			prometheus.MustNewConstMetric(deadDesc, prometheus.GaugeValue, float64(dead), sub))
		oldest = max(oldest, age)
	}
	if rows.Err() != nil {
		return
	}
	read = append(read, prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, oldest))
	m.mu.Lock()
	m.store = read
	m.mu.Unlock()
}

// observe counts one of River's job events of this instance.
func (m *metrics) observe(ev *river.Event) {
	if ev.Job == nil || ev.Job.Kind != (delivery{}).Kind() {
		return
	}
	sub := subscriberOf(ev.Job)
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.seen[sub]
	if c == nil {
		c = new([3]float64)
		m.seen[sub] = c
	}
	switch ev.Kind {
	case river.EventKindJobCompleted:
		c[0]++
	case river.EventKindJobFailed:
		c[1]++
		if ev.Job.State == rivertype.JobStateDiscarded {
			c[2]++
		}
	}
}
