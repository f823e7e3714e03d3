package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"usersvc/tests/performance/benchsuite"
	"usersvc/tests/performance/perfkit"
)

func sampleRun(id string, getRatio, p99 float64) *Run {
	s := perfkit.Suite{ID: "06-concurrency", Title: "Concurrency", Summary: "closed loop",
		Tables: []perfkit.Table{{Header: []string{"clients", "p99"}, Rows: [][]string{{"20", "3 ms"}}}},
		Charts: []perfkit.Chart{{Name: "latency-vs-concurrency", Title: "Latency", XLabel: "clients", YLabel: "ms", LogX: true,
			Series: []perfkit.Series{{Label: "p99", Points: []perfkit.Point{{X: 1, Y: 1}, {X: 20, Y: p99}, {X: 100, Y: 9}}}}}},
		Targets: []perfkit.Target{{Name: "p99 at 20 clients", Want: "< 10 ms", Got: "3 ms", Met: true}},
	}
	s.Higher("ratio.repo_get_vs_pgx", getRatio)
	s.Higher("ratio.http_get_vs_pgbench", 0.6)
	s.Metric("get_c20_p99_ms", p99)
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	return &Run{ID: id, Commit: "abc1234", Started: start, Finished: start.Add(time.Minute),
		Profile: perfkit.Profiles["quick"], Machine: map[string]string{"cpus": "2"},
		Config: map[string]string{PoolSizeKey: "8"}, Suites: []perfkit.Suite{s}}
}

// `make perf` promises a folder a person and a script can read: report.md, charts, and a
// results.json whose "ratios" are plain numbers.
func TestWriteProducesReportJSONAndCharts(t *testing.T) {
	dir := t.TempDir()
	r := sampleRun("20261125T100000Z-abc1234", 0.9, 3)
	require.NoError(t, Write(dir, r))
	for _, f := range []string{"report.md", "results.json", "latency-vs-concurrency.png", "latency-vs-concurrency.svg"} {
		info, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err, f)
		require.Positive(t, info.Size(), f)
	}
	var got struct {
		Ratios  map[string]float64 `json:"ratios"`
		Targets []struct {
			Status string `json:"status"`
		} `json:"targets"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "results.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &got))
	require.Equal(t, map[string]float64{"repo_get_vs_pgx": 0.9, "http_get_vs_pgbench": 0.6}, got.Ratios)
	require.Equal(t, "met", got.Targets[0].Status)
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "![Latency](latency-vs-concurrency.png)")
	require.Contains(t, string(md), "**0.90×**")
}

// A ratio that falls beyond noise, or a latency that grows beyond it, is flagged; movement
// within noise is not.
func TestCompareFlagsRegressionsBeyondNoiseOnly(t *testing.T) {
	root := t.TempDir()
	prevID, curID := "20261125T100000Z-aaaaaaa", "20261125T110000Z-bbbbbbb"
	for _, id := range []string{prevID, curID} {
		require.NoError(t, os.Mkdir(filepath.Join(root, id), 0o755))
	}
	require.NoError(t, Write(filepath.Join(root, prevID), sampleRun(prevID, 0.9, 3)))
	r := sampleRun(curID, 0.9, 3)
	require.Equal(t, filepath.Join(root, prevID), Previous(root, curID, r))
	other := *r
	other.Profile = perfkit.Profiles["full"]
	require.Empty(t, Previous(root, curID, &other), "runs of another profile are not compared")
	other = *r
	other.Config = map[string]string{PoolSizeKey: "16"}
	require.Empty(t, Previous(root, curID, &other), "runs with another pool size are not compared")
	other = *r
	other.Selection = "06"
	require.Empty(t, Previous(root, curID, &other), "a run of some suites is not compared with a run of all")

	c, err := Compare(filepath.Join(root, curID), filepath.Join(root, prevID), sampleRun(curID, 0.86, 3.3))
	require.NoError(t, err)
	require.Zero(t, c.Regressions, "−4%% ratio and +10%% p99 are noise: %+v", c)

	c, err = Compare(filepath.Join(root, curID), filepath.Join(root, prevID), sampleRun(curID, 0.9, 3.9))
	require.NoError(t, err)
	require.Zero(t, c.Regressions, "+30%% but under a millisecond is noise: %+v", c)

	c, err = Compare(filepath.Join(root, curID), filepath.Join(root, prevID), sampleRun(curID, 0.7, 6))
	require.NoError(t, err)
	require.Equal(t, 2, c.Regressions, "%+v", c)
	require.True(t, c.Ratios[len(c.Ratios)-1].Regression || c.Ratios[0].Regression)
}

func benchSet(t *testing.T, getNs ...int) benchsuite.Set {
	t.Helper()
	var b strings.Builder
	for _, ns := range getNs {
		fmt.Fprintf(&b, "BenchmarkCRUD/op=get/impl=gorm-2 \t 1000 \t %d ns/op\n", ns)
		fmt.Fprintf(&b, "BenchmarkCRUD/op=get/impl=pgx-2 \t 1000 \t %d ns/op\n", 50000+ns%7)
	}
	set, err := benchsuite.Parse(strings.NewReader(b.String()), "bench.txt")
	require.NoError(t, err)
	return set
}

// A benchmark is called slower only when the difference is significant (U test, α = 0.05),
// not because one noisy sample moved.
func TestBenchRegressionsNeedSignificance(t *testing.T) {
	prev := benchSet(t, 100000, 101000, 99000, 100500, 99500)
	slower := benchSet(t, 130000, 131000, 129000, 130500, 129500)
	noisy := benchSet(t, 99000, 140000, 100000, 101000, 98000)

	got := benchRegressions(prev, slower)
	require.Len(t, got, 1)
	require.Equal(t, "BenchmarkCRUD/op=get/impl=gorm", got[0].Name)
	require.InDelta(t, 30, got[0].ChangePct, 0.5)
	require.Empty(t, benchRegressions(prev, noisy))
	require.Empty(t, benchRegressions(slower, prev), "faster is not a regression")
}

// Errors, leaked goroutines, sequential scans: going from none to some is a regression even
// though no percentage describes it.
func TestARiseFromZeroIsARegression(t *testing.T) {
	require.True(t, delta("errors", 0, 3, false, metricNoise).Regression)
	require.False(t, delta("errors", 0, 0, false, metricNoise).Regression)
	require.False(t, delta("get_rps", 0, 3, true, metricNoise).Regression, "more throughput is not a regression")
}
