package report

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/perf/benchmath"

	"usersvc/tests/performance/benchsuite"
)

// Noise thresholds: how far a number may move between two runs on this shared, noisy machine
// before the comparison calls it a regression. Ratios are taken within one run against a
// baseline that saw the same noise, so they get the tighter bound.
const (
	ratioNoise  = 0.10
	metricNoise = 0.25
	// msFloor: a latency (a metric in _ms) must also move by this many milliseconds.
	msFloor = 1.0
)

// PoolSizeKey is the Run.Config entry holding the pool size of the app and the baselines.
const PoolSizeKey = "database.max_open_conns (pool size; pgx pool size; pgbench clients)"

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

// Previous returns the folder of the latest run under root before current with r's profile,
// suite selection, pool size and CPU count (a run under other conditions is not a baseline);
// "" when there is none.
func Previous(root, current string, r *Run) string {
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
		if err == nil && json.Unmarshal(data, &prev) == nil && prev.Profile == r.Profile.Name &&
			prev.Selection == r.Selection && prev.Config[PoolSizeKey] == r.Config[PoolSizeKey] &&
			prev.Machine["cpus"] == r.Machine["cpus"] {
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
		higher, info := map[string]bool{}, map[string]bool{}
		for _, k := range s.HigherIsBetter {
			higher[k] = true
		}
		for _, k := range s.Informational {
			info[k] = true
		}
		for _, k := range sortedKeys(s.Metrics) {
			if old, ok := prev.Metrics[s.ID][k]; ok && !isRatio(k) && !info[k] {
				d := delta(s.ID+" "+k, old, s.Metrics[k], higher[k], metricNoise)
				// Sub-millisecond latencies double on a busy machine without meaning anything.
				if strings.HasSuffix(k, "_ms") && math.Abs(d.New-d.Old) < msFloor {
					d.Regression = false
				}
				c.Metrics = append(c.Metrics, d)
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
	if old == 0 && cur > 0 && !higherIsBetter {
		// Errors, leaks, sequential scans: from none to some is the regression that matters
		// most, and no percentage expresses it.
		d.Regression, d.Note = true, "was 0"
	}
	return d
}

// benchstatCmd is benchstat at the golang.org/x/perf version go.mod pins.
const benchstatCmd = "golang.org/x/perf/cmd/benchstat"

// benchstatCompare flags benchmarks whose time per op got worse with significance: a
// Mann-Whitney U test at α = 0.05 (benchstat's test, from golang.org/x/perf/benchmath), so a
// run needs ≥ 4 samples per benchmark (the full profile takes 5) to flag anything. It also
// keeps benchstat's own text comparison as benchstat.txt.
func benchstatCompare(dir, prevDir, benchFile string, c *Comparison) error {
	prevFile, curFile := filepath.Join(prevDir, benchFile), filepath.Join(dir, benchFile)
	prev, err := parseBench(prevFile)
	if err != nil {
		return nil // the earlier run had no Go benchmarks
	}
	cur, err := parseBench(curFile)
	if err != nil {
		return err
	}
	c.BenchRegressions = benchRegressions(prev, cur)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "run", benchstatCmd, "previous="+prevFile, "this="+curFile).CombinedOutput()
	if err != nil {
		out = fmt.Appendf(out, "\nbenchstat failed: %v\n", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "benchstat.txt"), out, 0o644); err != nil {
		return fmt.Errorf("report: benchstat: %w", err)
	}
	c.BenchstatFile = "benchstat.txt"
	return nil
}

// benchRegressions lists the benchmarks of cur significantly slower than in prev.
func benchRegressions(prev, cur benchsuite.Set) []Delta {
	var out []Delta
	thr := benchmath.DefaultThresholds
	for _, name := range sortedKeys(cur) {
		old, ok := prev[name]
		if !ok || len(old.Samples) == 0 || len(cur[name].Samples) == 0 {
			continue
		}
		so := benchmath.NewSample(slices.Clone(old.Samples), &thr)
		sn := benchmath.NewSample(slices.Clone(cur[name].Samples), &thr)
		cmp := benchmath.AssumeNothing.Compare(so, sn)
		o := benchmath.AssumeNothing.Summary(so, 0.95).Center
		n := benchmath.AssumeNothing.Summary(sn, 0.95).Center
		// Significant is not enough: samples of one run share the machine's state of the
		// moment, so runs minutes apart differ "significantly" by 10-20% with no code change
		// (the raw pgx benchmarks show it). A regression must also exceed metricNoise.
		if cmp.P < cmp.Alpha && (n-o)/o > metricNoise {
			out = append(out, Delta{Name: name, Old: o * 1e9, New: n * 1e9,
				ChangePct: (n - o) / o * 100, Regression: true,
				Note: fmt.Sprintf("ns/op, p=%.3f n=%d+%d", cmp.P, cmp.N1, cmp.N2)})
		}
	}
	return out
}

func parseBench(path string) (benchsuite.Set, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return benchsuite.Parse(f, filepath.Base(path))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
