// Package benchsuite turns the Go benchmarks' output (tests/performance/bench, in the
// standard benchmark format) into the report's suites 1–5 and 10: tables of GORM against
// raw pgx, the depth curve, and the targets and ratios taken from them.
package benchsuite

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// Result is one benchmark's measurements: medians over its -count runs.
type Result struct {
	Name        string            // full name without GOMAXPROCS: "BenchmarkCRUD/op=get/impl=gorm"
	Base        string            // "BenchmarkCRUD"
	Config      map[string]string // {"op": "get", "impl": "gorm"}
	NsPerOp     float64
	BytesPerOp  float64
	AllocsPerOp float64
	Runs        int
	Samples     []float64 // sec/op of each run, for significance tests between runs
}

// Set is every benchmark of a run, by full name.
type Set map[string]*Result

// Parse reads Go benchmark output.
func Parse(r io.Reader, fileName string) (Set, error) {
	samples := map[string]map[string][]float64{}
	names := map[string]benchfmt.Name{}
	br := benchfmt.NewReader(r, fileName)
	for br.Scan() {
		res, ok := br.Result().(*benchfmt.Result)
		if !ok {
			continue // configuration lines, syntax errors of non-benchmark lines
		}
		base, parts := res.Name.Parts()
		full := "Benchmark" + string(base) // benchfmt drops the prefix
		for _, p := range parts {
			if !strings.HasPrefix(string(p), "-") {
				full += string(p)
			}
		}
		if samples[full] == nil {
			samples[full] = map[string][]float64{}
			names[full] = slices.Clone(res.Name) // the reader reuses the Result's buffers on Scan
		}
		for _, v := range res.Values {
			samples[full][v.Unit] = append(samples[full][v.Unit], v.Value)
		}
	}
	if err := br.Err(); err != nil {
		return nil, fmt.Errorf("benchsuite: %s: %w", fileName, err)
	}
	set := Set{}
	for full, units := range samples {
		base, parts := names[full].Parts()
		r := &Result{Name: full, Base: "Benchmark" + string(base), Config: map[string]string{}, Runs: len(units["sec/op"])}
		for _, p := range parts {
			if k, v, ok := strings.Cut(strings.TrimPrefix(string(p), "/"), "="); ok {
				r.Config[k] = v
			}
		}
		r.Samples = units["sec/op"]
		r.NsPerOp = median(units["sec/op"]) * 1e9
		r.BytesPerOp = median(units["B/op"])
		r.AllocsPerOp = median(units["allocs/op"])
		set[full] = r
	}
	return set, nil
}

// Find returns the benchmarks of family base whose configuration includes every key=value
// of match, ordered by name.
func (s Set) Find(base string, match map[string]string) []*Result {
	var out []*Result
	for _, r := range s {
		if r.Base != base {
			continue
		}
		ok := true
		for k, v := range match {
			if r.Config[k] != v {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// One returns the benchmark of family base with exactly the configuration match, or nil.
func (s Set) One(base string, match map[string]string) *Result {
	for _, r := range s.Find(base, match) {
		if len(r.Config) == len(match) {
			return r
		}
	}
	return nil
}

// Values lists the values key takes in family base, in order of first sort (numbers by
// value).
func (s Set) Values(base, key string) []string {
	seen := map[string]bool{}
	var vals []string
	for _, r := range s.Find(base, nil) {
		if v, ok := r.Config[key]; ok && !seen[v] {
			seen[v] = true
			vals = append(vals, v)
		}
	}
	slices.SortFunc(vals, compareNatural)
	return vals
}

func compareNatural(a, b string) int {
	var x, y int
	_, errA := fmt.Sscanf(a, "%d", &x)
	_, errB := fmt.Sscanf(b, "%d", &y)
	if errA == nil && errB == nil && fmt.Sprint(x) == a && fmt.Sprint(y) == b {
		return x - y
	}
	return strings.Compare(a, b)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
