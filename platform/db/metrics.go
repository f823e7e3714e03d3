package db

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what the Runner does. A nil *Metrics records nothing.
type Metrics struct {
	attempts   *prometheus.CounterVec
	operations *prometheus.CounterVec
}

// NewMetrics registers the Runner's metrics on reg.
func NewMetrics(reg prometheus.Registerer, namespace string) *Metrics {
	m := &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "db", Name: "attempts_total",
			Help: "Database attempts (first tries and retries) by operation kind and outcome class.",
		}, []string{"op", "class"}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "db", Name: "operations_total",
			Help: "Database operations (transactions and reads, retries folded in) by kind and final outcome.",
		}, []string{"op", "outcome"}),
	}
	reg.MustRegister(m.attempts, m.operations)
	return m
}

func (m *Metrics) attempt(op, class string) {
	if m != nil {
		m.attempts.WithLabelValues(op, class).Inc()
	}
}

func (m *Metrics) operation(op, outcome string) {
	if m != nil {
		m.operations.WithLabelValues(op, outcome).Inc()
	}
}
