package load

import (
	"context"
	"fmt"
	"net/http"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// poolStats is the server's database/sql pool as its /metrics shows it (the DBStats
// collector registered in app/metrics.go: go_sql_*{db_name="usersvc"}).
type poolStats struct {
	Open, InUse                               float64 // gauges
	OpenBefore                                float64 // in a change (sub): Open at its start
	WaitCount, WaitSeconds                    float64 // counters: waits for a free connection
	LifetimeClosed, IdleClosed, IdleTimeClose float64 // counters: connections closed by limits
}

// sub is the change of the counters from earlier to s; gauges are s's.
func (s poolStats) sub(earlier poolStats) poolStats {
	return poolStats{
		Open: s.Open, InUse: s.InUse, OpenBefore: earlier.Open,
		WaitCount: s.WaitCount - earlier.WaitCount, WaitSeconds: s.WaitSeconds - earlier.WaitSeconds,
		LifetimeClosed: s.LifetimeClosed - earlier.LifetimeClosed, IdleClosed: s.IdleClosed - earlier.IdleClosed,
		IdleTimeClose: s.IdleTimeClose - earlier.IdleTimeClose,
	}
}

// scrapePool reads the pool metrics from the server's /metrics.
func scrapePool(ctx context.Context, client *http.Client, base string) (poolStats, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return poolStats{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return poolStats{}, fmt.Errorf("load: scrape /metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return poolStats{}, fmt.Errorf("load: scrape /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return poolStats{}, fmt.Errorf("load: parse /metrics: %w", err)
	}
	var s poolStats
	for name, dst := range map[string]*float64{
		"go_sql_open_connections":            &s.Open,
		"go_sql_in_use_connections":          &s.InUse,
		"go_sql_wait_count_total":            &s.WaitCount,
		"go_sql_wait_duration_seconds_total": &s.WaitSeconds,
		"go_sql_max_lifetime_closed_total":   &s.LifetimeClosed,
		"go_sql_max_idle_closed_total":       &s.IdleClosed,
		"go_sql_max_idle_time_closed_total":  &s.IdleTimeClose,
	} {
		f, ok := families[name]
		if !ok || len(f.GetMetric()) == 0 {
			return poolStats{}, fmt.Errorf("load: /metrics has no %s (is the DBStats collector still registered in app/metrics.go?)", name)
		}
		m := f.GetMetric()[0]
		switch {
		case m.GetGauge() != nil:
			*dst = m.GetGauge().GetValue()
		case m.GetCounter() != nil:
			*dst = m.GetCounter().GetValue()
		case m.GetUntyped() != nil:
			*dst = m.GetUntyped().GetValue()
		}
	}
	return s, nil
}

// opened is how many connections the pool opened during a change (sub): every one it closed
// for a limit, plus the growth of the open count.
func (s poolStats) opened() float64 {
	return s.LifetimeClosed + s.IdleClosed + s.IdleTimeClose + s.Open - s.OpenBefore
}
