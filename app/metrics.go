package app

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"gorm.io/gorm"

	"usersvc/platform/resilience"
)

// metricsNamespace prefixes every metric of ours: usersvc_http_…, usersvc_db_….
const metricsNamespace = "usersvc"

// telemetry is the app's Prometheus registry and the metrics app/ itself feeds.
type telemetry struct {
	registry           *prometheus.Registry
	breakerTransitions *prometheus.CounterVec
	connectionsLost    prometheus.Counter
}

func newTelemetry() *telemetry {
	t := &telemetry{
		registry: prometheus.NewRegistry(),
		breakerTransitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: "db", Name: "breaker_transitions_total",
			Help: "Circuit breaker state changes, by old and new state.",
		}, []string{"from", "to"}),
		connectionsLost: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: "db", Name: "connections_lost_total",
			Help: "Established connections found broken (backend terminated, socket reset or closed), " +
				"by a statement or by the ping before reuse that follows a loss.",
		}),
	}
	t.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		t.breakerTransitions,
		t.connectionsLost,
	)
	return t
}

// watch exports the pool's database/sql statistics and the breaker's state.
func (t *telemetry) watch(gdb *gorm.DB, breaker *resilience.Breaker) error {
	sqlDB, err := gdb.DB()
	if err != nil {
		return err
	}
	t.registry.MustRegister(
		collectors.NewDBStatsCollector(sqlDB, metricsNamespace),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: metricsNamespace, Subsystem: "db", Name: "breaker_state",
			Help: "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
		}, func() float64 { return breakerStateValue(breaker.State()) }),
	)
	return nil
}

func breakerStateValue(s resilience.State) float64 {
	switch s {
	case resilience.StateHalfOpen:
		return 1
	case resilience.StateOpen:
		return 2
	}
	return 0
}

// handler serves the registry in the Prometheus text format.
func (t *telemetry) handler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{Registry: t.registry})
}
