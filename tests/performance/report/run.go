// Package report writes a performance run's folder: report.md, results.json, the charts
// (PNG and SVG, drawn with gonum/plot), the Go benchmark output and, when an earlier run
// exists, the comparison with it (benchstat, ratio and metric deltas).
package report

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"usersvc/tests/performance/perfkit"
)

// Run is everything one `make perf` measured.
type Run struct {
	ID         string // folder name: <UTC date-time>-<short commit>
	Commit     string
	Started    time.Time
	Finished   time.Time
	Profile    perfkit.Profile
	Machine    map[string]string // go, cpus, kernel, postgres, pgbench …
	Config     map[string]string // settings the app and baselines ran with
	Suites     []perfkit.Suite
	Errors     map[string]string // suite id → why it failed
	Selection  string            // the SUITES filter ("" for all); runs are compared only with runs of the same
	BenchFile  string            // Go benchmark output, in the run folder ("bench.txt")
	Comparison *Comparison       // nil when no earlier run was found
}

// Ratios gathers every suite's "ratio." metrics under their short names.
func (r *Run) Ratios() map[string]float64 {
	out := map[string]float64{}
	for _, s := range r.Suites {
		for k, v := range finite(s.Metrics) {
			if name, ok := strings.CutPrefix(k, "ratio."); ok {
				out[name] = v
			}
		}
	}
	return out
}

// results is the shape of results.json.
type results struct {
	Run        string                        `json:"run"`
	Commit     string                        `json:"commit"`
	Profile    string                        `json:"profile"`
	Selection  string                        `json:"suites_selected"`
	Started    time.Time                     `json:"started"`
	DurationS  float64                       `json:"duration_s"`
	Machine    map[string]string             `json:"machine"`
	Config     map[string]string             `json:"config"`
	Ratios     map[string]float64            `json:"ratios"`
	Targets    []targetJSON                  `json:"targets"`
	Metrics    map[string]map[string]float64 `json:"metrics"` // suite id → key → value
	Higher     map[string][]string           `json:"higher_is_better"`
	Errors     map[string]string             `json:"errors,omitempty"`
	Comparison *Comparison                   `json:"comparison,omitempty"`
}

type targetJSON struct {
	Suite string `json:"suite"`
	perfkit.Target
	Status string `json:"status"` // met | not met | not measured
}

func status(t perfkit.Target) string {
	switch {
	case t.NotMeasured != "":
		return "not measured"
	case t.Met:
		return "met"
	}
	return "not met"
}

// Write creates the run's files in dir, which must exist.
func Write(dir string, r *Run) error {
	sort.Slice(r.Suites, func(i, j int) bool { return r.Suites[i].ID < r.Suites[j].ID })
	charts := map[string][]string{}
	for _, s := range r.Suites {
		for _, c := range s.Charts {
			files, err := drawChart(dir, c)
			if err != nil {
				return err
			}
			charts[c.Name] = files
		}
	}
	if err := writeJSON(filepath.Join(dir, "results.json"), r); err != nil {
		return err
	}
	md := markdown(r, charts)
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(md), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

func writeJSON(path string, r *Run) error {
	out := results{Run: r.ID, Commit: r.Commit, Profile: r.Profile.Name, Selection: r.Selection, Started: r.Started,
		DurationS: r.Finished.Sub(r.Started).Seconds(), Machine: r.Machine, Config: r.Config,
		Ratios: r.Ratios(), Metrics: map[string]map[string]float64{}, Higher: map[string][]string{},
		Errors: r.Errors, Comparison: r.Comparison}
	for _, s := range r.Suites {
		out.Metrics[s.ID] = finite(s.Metrics)
		out.Higher[s.ID] = s.HigherIsBetter
		for _, t := range s.Targets {
			out.Targets = append(out.Targets, targetJSON{Suite: s.ID, Target: t, Status: status(t)})
		}
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("report: results.json: %w", err)
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// finite drops NaN and ±Inf (a division by a zero measurement): JSON cannot hold them, and
// one of them must not cost the whole report.
func finite(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out[k] = v
		}
	}
	return out
}
