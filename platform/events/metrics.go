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
	delivered, failed, discarded *prometheus.CounterVec
	pending, dead, oldest        *prometheus.Desc

	mu    sync.Mutex
	store []prometheus.Metric // the store's figures as last read; nil before the first read
}

// refreshEvery is how often a consuming instance reads the store's figures.
const refreshEvery = 5 * time.Second

func newMetrics(sqlDB *sql.DB) *metrics { return &metrics{sqlDB: sqlDB} }

// Collector registers the Bus's metrics under namespace: usersvc_events_….
func (b *Bus) Collector(namespace string) prometheus.Collector {
	m := b.metrics
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "events", Name: name, Help: help},
			[]string{"subscriber"})
	}
	m.delivered = counter("delivered_total", "Events this instance delivered (handled, or found handled already), by subscriber.")
	m.failed = counter("failed_attempts_total", "Failed delivery attempts on this instance, by subscriber (each is retried or becomes a dead letter).")
	m.discarded = counter("dead_lettered_total", "Events that became dead letters on this instance after their last attempt failed, by subscriber.")
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "events", name), help, labels, nil)
	}
	m.pending = desc("pending", "Events waiting to be delivered (new, running, or to be retried), by subscriber; all instances.", "subscriber")
	m.dead = desc("dead_letters", "Events whose delivery gave up (see `server events list --state dead`), by subscriber; all instances.", "subscriber")
	m.oldest = desc("oldest_pending_age_seconds", "Age of the oldest event waiting to be delivered; 0 when none waits.")
	return m
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	m.delivered.Describe(ch)
	m.failed.Describe(ch)
	m.discarded.Describe(ch)
	ch <- m.pending
	ch <- m.dead
	ch <- m.oldest
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.delivered.Collect(ch)
	m.failed.Collect(ch)
	m.discarded.Collect(ch)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, metric := range m.store {
		ch <- metric
	}
}

// refresh reads the store's figures every refreshEvery until ctx ends.
func (m *metrics) refresh(ctx context.Context) {
	for {
		if m.pending != nil {
			m.read(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(refreshEvery):
		}
	}
}

// read queries the store's figures (bounded by a second); on failure the last figures stay.
func (m *metrics) read(ctx context.Context) {
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
		read = append(read, prometheus.MustNewConstMetric(m.pending, prometheus.GaugeValue, float64(pending), sub),
			prometheus.MustNewConstMetric(m.dead, prometheus.GaugeValue, float64(dead), sub))
		oldest = max(oldest, age)
	}
	if rows.Err() != nil {
		return
	}
	read = append(read, prometheus.MustNewConstMetric(m.oldest, prometheus.GaugeValue, oldest))
	m.mu.Lock()
	m.store = read
	m.mu.Unlock()
}

// observe counts one of River's job events of this instance.
func (m *metrics) observe(ev *river.Event) {
	if m.delivered == nil || ev.Job == nil || ev.Job.Kind != (delivery{}).Kind() {
		return
	}
	sub := subscriberOf(ev.Job)
	switch ev.Kind {
	case river.EventKindJobCompleted:
		m.delivered.WithLabelValues(sub).Inc()
	case river.EventKindJobFailed:
		m.failed.WithLabelValues(sub).Inc()
		if ev.Job.State == rivertype.JobStateDiscarded {
			m.discarded.WithLabelValues(sub).Inc()
		}
	}
}
