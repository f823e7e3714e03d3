package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"usersvc/tests/performance/benchsuite"
	"usersvc/tests/performance/perfkit"
	"usersvc/tests/performance/report"
)

// benchFamilies maps the suites built from Go benchmarks to the benchmark functions behind them.
var benchFamilies = []struct{ suite, pattern string }{
	{"01-crud", "CRUD|Layers"},
	{"02-lookups", "Lookup"},
	{"03-pagination", "Page|Depth"},
	{"04-bulk", "Bulk"},
	{"05-joins", "Query"},
	{"10-transactions", "Tx"},
}

func benchSelected(selected func(string) bool) bool { return benchPattern(selected) != "" }

func benchPattern(selected func(string) bool) string {
	var parts []string
	for _, f := range benchFamilies {
		if selected(f.suite) {
			parts = append(parts, f.pattern)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "^Benchmark(" + strings.Join(parts, "|") + ")$"
}

// runBenchmarks runs tests/performance/bench against the run's database, keeps the output as
// bench.txt (benchstat's input format) and builds the suites from it.
func runBenchmarks(ctx context.Context, env *perfkit.Env, selected func(string) bool, r *report.Run) ([]perfkit.Suite, error) {
	p := env.Profile
	r.BenchFile = "bench.txt"
	out, err := os.Create(filepath.Join(env.OutDir, r.BenchFile))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	env.Log.Info("perf: Go benchmarks", "pattern", benchPattern(selected), "count", p.BenchCount, "benchtime", p.BenchTime)
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", benchPattern(selected), "-benchmem",
		"-count", strconv.Itoa(p.BenchCount), "-benchtime", p.BenchTime, "-timeout", p.BenchTimeout.String(),
		"./tests/performance/bench/")
	// go test runs the test binary as a child: on interrupt, stop the whole process group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Env = append(os.Environ(),
		"PERF_DATABASE_URL="+env.DBURL,
		"PERF_USERS="+strconv.Itoa(env.Data.Users),
		"PERF_EVENTS_PER_USER="+strconv.Itoa(env.Data.EventsPerUser),
		"PERF_DELETED_EVERY="+strconv.Itoa(env.Data.DeletedEvery),
		"PERF_POOL_SIZE="+strconv.Itoa(env.PoolSize),
		"PERF_DEPTHS="+joinInts(p.Depths),
		"PERF_BULK_SIZES="+joinInts(p.BulkSizes),
	)
	cmd.Stdout = io.MultiWriter(out, os.Stderr)
	cmd.Stderr = os.Stderr
	runErr := cmd.Run()
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	set, err := benchsuite.Parse(out, r.BenchFile)
	if err != nil {
		return nil, err
	}
	suites := benchsuite.Suites(set, p, env.PoolSize)
	if runErr != nil {
		return suites, fmt.Errorf("go test -bench failed (%v): see bench.txt", runErr)
	}
	return suites, nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}
