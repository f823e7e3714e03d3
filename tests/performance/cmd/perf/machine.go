package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"usersvc/app"
	"usersvc/tests/performance/perfkit"
	"usersvc/tests/performance/report"
)

// gitCommit is the short commit being measured, with "-dirty" when the tree has changes.
func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "nocommit"
	}
	commit := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		commit += "-dirty"
	}
	return commit
}

// machineInfo records what the numbers were measured on.
func machineInfo(ctx context.Context, dbURL string) map[string]string {
	m := map[string]string{
		"go":         runtime.Version(),
		"cpus":       strconv.Itoa(runtime.NumCPU()),
		"gomaxprocs": strconv.Itoa(runtime.GOMAXPROCS(0)),
		"os/arch":    runtime.GOOS + "/" + runtime.GOARCH,
		"cpu model":  procField("/proc/cpuinfo", "model name"),
		"memory":     procField("/proc/meminfo", "MemTotal"),
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("pgbench", "--version").Output(); err == nil {
		m["pgbench"] = strings.TrimSpace(string(out))
	}
	// wrk prints its version, then exits 1.
	if out, _ := exec.Command("wrk", "--version").Output(); len(out) > 0 {
		m["wrk"], _, _ = strings.Cut(strings.TrimSpace(string(out)), " Copyright")
	}
	if conn, err := pgx.Connect(ctx, dbURL); err == nil {
		var v, sb, wm string
		_ = conn.QueryRow(ctx, "SELECT version(), current_setting('shared_buffers'), current_setting('work_mem')").Scan(&v, &sb, &wm)
		m["postgres"], m["postgres shared_buffers"], m["postgres work_mem"] = v, sb, wm
		conn.Close(ctx)
	}
	return m
}

func procField(path, field string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == field {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// configInfo is the configuration every app of the run starts from (suites that sweep a
// setting say so in their tables).
func configInfo(cfg app.Config, env *perfkit.Env) map[string]string {
	r := cfg.Resilience
	return map[string]string{
		report.PoolSizeKey:             strconv.Itoa(env.PoolSize),
		"database.statement_timeout":   cfg.Database.StatementTimeout.String(),
		"resilience.operation_timeout": r.OperationTimeout.String(),
		"resilience.retry":             fmt.Sprintf("max_attempts %d, backoff %s→%s, budget %g tokens / ratio %g", r.Retry.MaxAttempts, r.Retry.InitialBackoff, r.Retry.MaxBackoff, r.Retry.BudgetTokens, r.Retry.BudgetRatio),
		"resilience.breaker":           fmt.Sprintf("threshold %d per %s, open %s→%s", r.Breaker.FailureThreshold, r.Breaker.Window, r.Breaker.OpenTimeout, r.Breaker.MaxOpenTimeout),
		"protocol":                     "pgx extended protocol with statement cache (app, pgx baseline); pgbench -M prepared",
		"profile data":                 fmt.Sprintf("%d users (1 in %d deleted), %d events each", env.Profile.Users, env.Profile.DeletedEvery, env.Profile.EventsPerUser),
	}
}
