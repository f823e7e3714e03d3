// Package perfkit is what the performance suites share: the run's profile and environment,
// the seeded data set, an in-process app, and the result shapes the report is drawn from.
// Suites fill results with numbers; report/ turns them into report.md, results.json and
// charts, so no suite formats or plots anything itself.
package perfkit

import "context"

// Suite is what one suite measured.
type Suite struct {
	ID      string // sortable and stable across runs: "06-concurrency"
	Title   string // "Concurrency against HTTP"
	Summary string // one paragraph: what is measured and how
	Tables  []Table
	Charts  []Chart
	Targets []Target
	// Metrics are the suite's headline numbers under stable keys (results.json, and the
	// comparison with the previous run). A key starting with "ratio." is also copied, without
	// the prefix, into the top-level "ratios" object. Keys say their unit: "_ms", "_rps",
	// "_tps", "_bytes", "_pct", or nothing for a plain ratio or count.
	Metrics map[string]float64
	// HigherIsBetter lists metric keys where a larger value is better (throughput, ratios);
	// every other key is treated as lower-is-better (latency, bytes) when runs are compared.
	HigherIsBetter []string
	// Informational lists metric keys that are findings rather than better or worse (the
	// best pool size); runs are not compared on them.
	Informational []string
	Notes         []string // findings in words, one sentence or two each
	Files         []string // extra files written into the run folder (profiles), relative names
}

// Table is a titled grid of already formatted cells.
type Table struct {
	Caption string
	Header  []string
	Rows    [][]string
}

// Chart is data for one line chart; report/ draws it as <Name>.png and <Name>.svg.
type Chart struct {
	Name   string // file stem: "latency-vs-concurrency"
	Title  string
	XLabel string
	YLabel string
	LogX   bool
	LogY   bool
	Series []Series
}

// Series is one line of a chart.
type Series struct {
	Label  string
	Points []Point
}

// Point is one (x, y) of a series.
type Point struct{ X, Y float64 }

// Target is one of the targets, stated against what was measured.
type Target struct {
	Name string // "GORM get-by-id vs raw pgx"
	Want string // "≥ 0.85×"
	Got  string // "0.91×"
	Met  bool
	// Gap says by how much a missed target was missed ("0.07× short", "p99 3.1 ms over").
	Gap string
	// NotMeasured, when set, says why this run cannot judge the target (the quick profile's
	// data is too small, say); Met is then meaningless.
	NotMeasured string
}

// Metric adds a metric to s, creating the map when needed.
func (s *Suite) Metric(key string, v float64) {
	if s.Metrics == nil {
		s.Metrics = map[string]float64{}
	}
	s.Metrics[key] = v
}

// Higher records a metric whose larger values are better.
func (s *Suite) Higher(key string, v float64) {
	s.Metric(key, v)
	s.HigherIsBetter = append(s.HigherIsBetter, key)
}

// Runner is one suite the orchestrator (tests/performance/cmd/perf) can run. ID matches
// the Suite's ID; SUITES=06,07 on `make perf` runs only suites whose ID starts so.
type Runner struct {
	ID  string
	Run func(ctx context.Context, env *Env) (Suite, error)
}

// Info records a metric that is a finding, not a score.
func (s *Suite) Info(key string, v float64) {
	s.Metric(key, v)
	s.Informational = append(s.Informational, key)
}
