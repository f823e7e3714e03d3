package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"golang.org/x/perf/benchstat"
)

// Noise thresholds: how far a number may move between two runs on this shared, noisy machine
// before the comparison calls it a regression. Ratios are taken within one run against a
// baseline that saw the same noise, so they get the tighter bound.
const (
	ratioNoise  = 0.10
	metricNoise = 0.25
)

// Comparison is this run against the previous run of the same profile.
type Comparison struct {
	Previous         string  `json:"previous"`
	Ratios           []Delta `json:"ratios"`
	Metrics          []Delta `json:"metrics"`
	BenchstatFile    string  `json:"benchstat_file,omitempty"`
	BenchRegressions []Delta `json:"bench_regressions,omitempty"`
	Regressions      int     `json:"regressions"`
}

// Delta is one number in both runs.
type Delta struct {
	Name       string  `json:"name"`
	Old        float64 `json:"old"`
	New        float64 `json:"new"`
	ChangePct  float64 `json:"change_pct"`
	Regression bool    `json:"regression"`
	Note       string  `json:"note,omitempty"`
}

// Previous returns the folder of the latest run under root, other than current, of the same
// profile with a results.json; "" when there is none.
func Previous(root, current, profile string) string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return ""
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != current && e.Name() < current {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	for i := len(names) - 1; i >= 0; i-- {
		var prev results
		data, err := os.ReadFile(filepath.Join(root, names[i], "results.json"))
		if err == nil && json.Unmarshal(data, &prev) == nil && prev.Profile == profile {
			return filepath.Join(root, names[i])
		}
	}
	return ""
}

// Compare compares run r (files in dir) with the earlier run in prevDir, writing
// benchstat.txt into dir when both have benchmark output.
func Compare(dir, prevDir string, r *Run) (*Comparison, error) {
	var prev results
	data, err := os.ReadFile(filepath.Join(prevDir, "results.json"))
	if err != nil {
		return nil, fmt.Errorf("report: previous run: %w", err)
	}
	if err := json.Unmarshal(data, &prev); err != nil {
		return nil, fmt.Errorf("report: previous run: %w", err)
	}
	c := &Comparison{Previous: filepath.Base(prevDir)}
	cur := r.Ratios()
	for _, name := range sortedKeys(cur) {
		if old, ok := prev.Ratios[name]; ok {
			c.Ratios = append(c.Ratios, delta(name, old, cur[name], true, ratioNoise))
		}
	}
	for _, s := range r.Suites {
		higher := map[string]bool{}
		for _, k := range s.HigherIsBetter {
			higher[k] = true
		}
		for _, k := range sortedKeys(s.Metrics) {
			if old, ok := prev.Metrics[s.ID][k]; ok && !isRatio(k) {
				c.Metrics = append(c.Metrics, delta(s.ID+" "+k, old, s.Metrics[k], higher[k], metricNoise))
			}
		}
	}
	if r.BenchFile != "" {
		if err := benchstatCompare(dir, prevDir, r.BenchFile, c); err != nil {
			return nil, err
		}
	}
	for _, list := range [][]Delta{c.Ratios, c.Metrics, c.BenchRegressions} {
		for _, d := range list {
			if d.Regression {
				c.Regressions++
			}
		}
	}
	return c, nil
}

func isRatio(k string) bool { return len(k) > 6 && k[:6] == "ratio." }

func delta(name string, old, cur float64, higherIsBetter bool, noise float64) Delta {
	d := Delta{Name: name, Old: old, New: cur}
	if old != 0 {
		d.ChangePct = (cur - old) / math.Abs(old) * 100
	}
	worse := d.ChangePct / 100
	if higherIsBetter {
		worse = -worse
	}
	d.Regression = worse > noise
	return d
}

// benchstatCompare runs benchstat's comparison (Mann-Whitney U test, α = 0.05) of the two
// runs' benchmarks; a significant change for the worse in time per op is a regression.
func benchstatCompare(dir, prevDir, benchFile string, c *Comparison) error {
	prevFile := filepath.Join(prevDir, benchFile)
	if _, err := os.Stat(prevFile); err != nil {
		return nil // the earlier run had no Go benchmarks
	}
	col := &benchstat.Collection{Alpha: 0.05, DeltaTest: benchstat.UTest}
	for _, f := range []struct{ config, path string }{{"previous", prevFile}, {"this run", filepath.Join(dir, benchFile)}} {
		fh, err := os.Open(f.path)
		if err != nil {
			return fmt.Errorf("report: benchstat: %w", err)
		}
		err = col.AddFile(f.config, fh)
		fh.Close()
		if err != nil {
			return fmt.Errorf("report: benchstat: %w", err)
		}
	}
	tables := col.Tables()
	var buf bytes.Buffer
	benchstat.FormatText(&buf, tables)
	if err := os.WriteFile(filepath.Join(dir, "benchstat.txt"), buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: benchstat: %w", err)
	}
	c.BenchstatFile = "benchstat.txt"
	for _, t := range tables {
		if t.Metric != "time/op" {
			continue
		}
		for _, row := range t.Rows {
			if row.Change < 0 && len(row.Metrics) == 2 {
				c.BenchRegressions = append(c.BenchRegressions, Delta{Name: row.Benchmark,
					Old: row.Metrics[0].Mean, New: row.Metrics[1].Mean, ChangePct: row.PctDelta,
					Regression: true, Note: row.Note})
			}
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
