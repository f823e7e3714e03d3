// Command perf runs the performance suites and writes a report: `make perf` (PROFILE=full,
// the default) or `make perf PROFILE=quick`. It needs a PostgreSQL (TEST_ADMIN_DATABASE_URL,
// which scripts/with-postgres exports), pgbench, and the service binary (-server-bin).
//
//	go run ./tests/performance/cmd/perf -profile quick -server-bin bin/server -out perf/results
//
// Each run gets a database of its own (created, migrated, seeded, dropped at the end) and a
// folder perf/results/<UTC date-time>-<short commit>/ with report.md, results.json,
// bench.txt, charts and profiles. It exits 1 when a suite failed (the report still says what
// the others measured).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"usersvc/app"
	"usersvc/tests/performance/load"
	"usersvc/tests/performance/perfkit"
	"usersvc/tests/performance/plans"
	"usersvc/tests/performance/report"
	"usersvc/tests/performance/resilience"
	"usersvc/tests/performance/scale"
	"usersvc/tests/performance/topology"
	"usersvc/tests/testdb"
)

type options struct {
	profile   string
	out       string
	suites    string
	serverBin string
	keepDB    bool
}

func main() {
	var o options
	flag.StringVar(&o.profile, "profile", envOr("PROFILE", "full"), "quick (≤ 2 min, small data) or full (≥ 1M users)")
	flag.StringVar(&o.out, "out", "perf/results", "folder that receives the run's folder")
	flag.StringVar(&o.suites, "suites", os.Getenv("SUITES"), "comma-separated suite id prefixes to run (e.g. 01,06); empty: all")
	flag.StringVar(&o.serverBin, "server-bin", "bin/server", "the service binary the HTTP suites start")
	flag.BoolVar(&o.keepDB, "keep-db", false, "keep the run's database (its name is logged)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	code, err := run(ctx, o, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "perf:", err)
	}
	os.Exit(code)
}

func run(ctx context.Context, o options, log *slog.Logger) (int, error) {
	p, err := perfkit.ProfileNamed(o.profile)
	if err != nil {
		return 2, err
	}
	bin, err := filepath.Abs(o.serverBin)
	if err != nil {
		return 2, err
	}
	if _, err := os.Stat(bin); err != nil {
		return 2, fmt.Errorf("the service binary %s is missing: build it with `make build` (make perf does)", o.serverBin)
	}
	// The configuration every app of the run starts from (perfkit.AppEnv), not the caller's
	// environment: the apps and the server processes do not see USERSVC_* settings.
	defaults, err := app.LoadConfig("", nil)
	if err != nil {
		return 2, err
	}
	cfg, err := app.LoadConfig("", perfkit.AppEnv("postgres://unused", defaults.Database.MaxOpenConns))
	if err != nil {
		return 2, err
	}
	selected := selector(o.suites)
	if selected("11-pgbench") {
		// Fail now, not after ten minutes of other suites.
		if _, err := load.FindPgbench(); err != nil {
			return 2, err
		}
		if _, err := load.FindWrk(); err != nil {
			return 2, err
		}
	}
	commit := gitCommit()
	r := &report.Run{ID: time.Now().UTC().Format("20060102T150405Z") + "-" + commit, Commit: commit,
		Started: time.Now(), Profile: p, Errors: map[string]string{}, Selection: o.suites}
	dir := filepath.Join(o.out, r.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 1, err
	}
	env := &perfkit.Env{Profile: p, PoolSize: cfg.Database.MaxOpenConns,
		ServerBin: bin, OutDir: dir, Log: log}
	log.Info("perf: starting", "profile", p.Name, "run", r.ID, "pool_size", env.PoolSize)

	dbURL, drop, err := testdb.Create("perf")
	if err != nil {
		return 1, err
	}
	env.DBURL = dbURL
	defer func() {
		if o.keepDB {
			log.Info("perf: database kept", "url", dbURL)
			return
		}
		if err := drop(); err != nil {
			log.Warn("perf: dropping the run's database failed", "err", err)
		}
	}()
	if err := prepare(ctx, env, log); err != nil {
		return 1, err
	}
	r.Machine = machineInfo(ctx, dbURL)
	r.Config = configInfo(cfg, env)
	settle := func() {
		// Earlier suites insert and delete users: vacuum, so no suite pays for another's dead
		// rows or stale statistics.
		if err := vacuum(ctx, dbURL); err != nil {
			log.Warn("perf: vacuum failed", "err", err)
		}
	}

	if benchSelected(selected) {
		settle()
		suites, err := runBenchmarks(ctx, env, selected, r)
		if err != nil {
			r.Errors["benchmarks"] = err.Error()
		}
		r.Suites = append(r.Suites, suites...)
	}
	runners := append(append(append(plans.Suites(), load.Suites()...), resilience.Suites()...), scale.Suites()...)
	runners = append(runners, topology.Suites()...)
	for _, s := range runners {
		if !selected(s.ID) || ctx.Err() != nil {
			continue
		}
		settle()
		log.Info("perf: suite", "id", s.ID)
		start := time.Now()
		res, err := s.Run(ctx, env)
		if err != nil {
			r.Errors[s.ID] = err.Error()
			log.Error("perf: suite failed", "id", s.ID, "err", err)
			continue
		}
		log.Info("perf: suite done", "id", s.ID, "took", time.Since(start).Round(time.Millisecond))
		r.Suites = append(r.Suites, res)
	}
	if err := ctx.Err(); err != nil {
		r.Errors["run"] = "interrupted: " + err.Error()
	}
	r.Finished = time.Now()

	if prev := report.Previous(o.out, r.ID, r); prev != "" {
		c, err := report.Compare(dir, prev, r)
		if err != nil {
			log.Warn("perf: comparison with the previous run failed", "previous", prev, "err", err)
		}
		r.Comparison = c
	}
	if err := report.Write(dir, r); err != nil {
		return 1, err
	}
	fmt.Print(report.Summary(r, dir))
	if len(r.Errors) > 0 {
		return 1, errors.New("some suites failed; see the report")
	}
	return 0, nil
}

// prepare migrates and seeds the run's database.
func prepare(ctx context.Context, env *perfkit.Env, log *slog.Logger) error {
	start := time.Now()
	if err := perfkit.Migrate(ctx, env.DBURL); err != nil {
		return err
	}
	info, err := perfkit.Seed(ctx, env.DBURL, env.Profile)
	if err != nil {
		return err
	}
	env.Data = info
	log.Info("perf: seeded", "users", info.Users, "events", info.Users*info.EventsPerUser,
		"took", time.Since(start).Round(time.Millisecond))
	return nil
}

// vacuum runs VACUUM ANALYZE on the users tables of dbURL.
func vacuum(ctx context.Context, dbURL string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "VACUUM ANALYZE users, user_events")
	return err
}

// selector matches suite ids against the comma-separated prefixes in list (all when empty).
func selector(list string) func(id string) bool {
	var prefixes []string
	for _, p := range strings.Split(list, ",") {
		if p = strings.TrimSpace(p); p != "" {
			prefixes = append(prefixes, p)
		}
	}
	return func(id string) bool {
		if len(prefixes) == 0 {
			return true
		}
		for _, p := range prefixes {
			if strings.HasPrefix(id, p) {
				return true
			}
		}
		return false
	}
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
