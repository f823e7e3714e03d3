package load

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"usersvc/tests/performance/perfkit"
)

// suite11 is one run of suite 11: the service against pgbench on the same SQL, its HTTP side
// driven by wrk (and by vegeta for comparison).
type suite11 struct {
	env          *perfkit.Env
	s            *perfkit.Suite
	r            *rig
	pgbench, wrk string            // the binaries
	vars         map[string]string // the pgbench scripts' -D variables
	sql, lua     map[string]string // baseline key → rendered pgbench / wrk script
	logDir       string            // pgbench's per-transaction logs, read and deleted
	runs         strings.Builder   // every wrk command line and report: wrk/runs.txt
	seed         int               // the last wrk run's random seed
}

func runPgbench(ctx context.Context, env *perfkit.Env) (s perfkit.Suite, err error) {
	x := &suite11{env: env, s: &s, sql: map[string]string{}, lua: map[string]string{}}
	if x.pgbench, err = FindPgbench(); err != nil {
		return s, err
	}
	if x.wrk, err = FindWrk(); err != nil {
		return s, err
	}
	s = perfkit.Suite{ID: "11-pgbench", Title: "The app vs pgbench on the same SQL", Summary: x.summary()}
	if env.Data.DeletedEvery == 1 || env.Data.Users < pageRows {
		return s, fmt.Errorf("load: pgbench needs at least %d seeded users, most of them live (got %+v)", pageRows, env.Data)
	}
	if x.logDir, err = os.MkdirTemp("", "usersvc-pgbench-log-"); err != nil {
		return s, err
	}
	defer os.RemoveAll(x.logDir)
	r, err := newRig(env)
	if err != nil {
		return s, err
	}
	x.r = r
	defer r.finish(ctx, &s, &err)
	x.vars = pgbenchVars(env.Data, r.t.prefix)
	removeScripts, err := x.renderScripts(ctx)
	if err != nil {
		return s, err
	}
	defer removeScripts()

	// pgbench's side of the latency comparison first, while the service is not running: at
	// 100 clients pgbench needs 100 connections of its own.
	pgTails, err := x.pgbenchTails(ctx)
	if err != nil {
		return s, err
	}
	if err := r.start(ctx, env.PoolSize, profiled...); err != nil {
		return s, err
	}
	if err := x.throughput(ctx); err != nil {
		return s, err
	}
	if err := x.tails(ctx, pgTails); err != nil {
		return s, err
	}
	x.notes()
	return s, x.saveRuns()
}

func (x *suite11) summary() string {
	clients, step := x.env.PoolSize, pgbenchDuration(x.env.Profile.Step)
	return fmt.Sprintf("For each operation, pgbench replays the SQL GORM sends for it (custom scripts, -M prepared like the "+
		"app's pgx extended protocol with its statement cache, %d clients = the pool size, -j %d, -n, -T %s) on the "+
		"run's database; right after it the real binary (pool %d) gets the same operation through HTTP from wrk, a C "+
		"load generator (%d connections = pgbench's clients, %d threads like pgbench's -j, closed loop, %s; Lua scripts "+
		"pick random live users the way the pgbench scripts do and POST unique usernames). The headline ratio HTTP req/s "+
		"(wrk) ÷ pgbench TPS is what the service keeps of what PostgreSQL can do here; the rest is HTTP, JSON, GORM, "+
		"database/sql and the resilience layers sharing two CPUs with PostgreSQL and the load generator. For GET and POST, "+
		"vegeta (Go, the load generator of the other suites) then runs the same closed loop for comparison: it takes several times wrk's "+
		"CPU per request, which the service then cannot use. CPU per request is split by process; the service's CPU "+
		"profile is recorded during the wrk runs of GET and POST. Last, tail latency: pgbench (every transaction logged) "+
		"and wrk at %s clients, GET and POST, against the issue's target of an HTTP p99 at most %.1f× pgbench's at the "+
		"same client count. Reads address seeded live users only.",
		clients, min(2, clients), step, x.env.PoolSize, clients, min(2, clients), step,
		joinInts(p99Clients, " and "), maxP99VsPgbench)
}

// renderScripts writes the pgbench and wrk scripts (into the run folder, when there is
// one) and checks the pgbench scripts read what the app reads.
func (x *suite11) renderScripts(ctx context.Context) (remove func(), err error) {
	var sqlNames, luaNames []string
	for _, b := range baselines {
		sqlNames, luaNames = append(sqlNames, b.script), append(luaNames, b.lua)
	}
	sqlDir, removeSQL, err := scriptDir(x.env, x.s, "pgbench", sqlNames)
	if err != nil {
		return nil, err
	}
	luaDir, removeLua, err := scriptDir(x.env, x.s, "wrk", luaNames)
	if err != nil {
		removeSQL()
		return nil, err
	}
	remove = func() { removeSQL(); removeLua() }
	for _, b := range baselines {
		if x.sql[b.key], err = renderScript(sqlDir, b.script); err != nil {
			break
		}
		if x.lua[b.key], err = renderWrkScript(luaDir, b.lua); err != nil {
			break
		}
		if err = checkScript(ctx, x.env.DBURL, b, x.vars); err != nil {
			break
		}
	}
	if err != nil {
		remove()
		return nil, err
	}
	if x.env.OutDir != "" {
		x.s.Files = append(x.s.Files, "wrk/runs.txt")
	}
	return remove, nil
}

// throughput measures each operation with pgbench and wrk at pool-size concurrency (and
// GET and POST with vegeta too), and splits the CPU per request by process.
func (x *suite11) throughput(ctx context.Context) error {
	clients, step := x.env.PoolSize, x.env.Profile.Step
	table := perfkit.Table{
		Caption: fmt.Sprintf("%d clients on every side, closed loops of %s: pgbench -M prepared; wrk (the headline ratio); "+
			"vegeta (GET and POST only)", clients, pgbenchDuration(step)),
		Header: []string{"Operation", "pgbench TPS", "wrk req/s", "wrk errors", "wrk bytes/answer", "HTTP ÷ pgbench (wrk)",
			"vegeta req/s", "vegeta p50 ms", "vegeta p99 ms", "vegeta errors", "vegeta ÷ pgbench"},
	}
	cpu := perfkit.Table{
		Caption: "Where the CPU goes, in µs of CPU per transaction (pgbench) or request (wrk, vegeta) by process: the service " +
			"(/proc/PID/stat), the load generator (pgbench's and wrk's own CPU from getrusage; for vegeta this Go process), " +
			"and PostgreSQL + rest: the machine's busy time (/proc/stat) less those two, i.e. PostgreSQL's backends plus " +
			"anything else that ran",
		Header: []string{"Operation", "Load generator", "total µs", "service µs", "load generator µs", "PostgreSQL + rest µs"},
	}
	var profTables []perfkit.Table
	var profLabels []string
	var profs []*cpuProfile
	for _, b := range baselines {
		pg, err := runScript(ctx, x.pgbench, x.env, x.sql[b.key], b, x.vars, x.r.t.likePattern(), pgbenchRun{clients: clients})
		if err != nil {
			return err
		}
		if b.profile == "" {
			if err := x.probe(ctx, b); err != nil {
				return err
			}
		}
		w, prof, err := x.wrkThroughput(ctx, b)
		if err != nil {
			return err
		}
		ratio := w.RPS() / pg.tps
		row := []string{b.label, rps(pg.tps), rps(w.RPS()), w.errorsCell(), fmt.Sprintf("%.0f", float64(w.bytes)/float64(w.requests)),
			fmt.Sprintf("**%.2f×**", ratio), "–", "–", "–", "–", "–"}
		cpu.Rows = append(cpu.Rows, append([]string{b.label, "pgbench"}, pg.cpu.cells()...),
			append([]string{b.label, "wrk"}, w.cpu.cells()...))
		x.s.Higher("pgbench_"+b.key+"_tps", pg.tps)
		x.s.Higher("http_"+b.key+"_rps", w.RPS())
		x.s.Higher("ratio.http_"+b.key+"_vs_pgbench", ratio)
		var vegCPU cpuSplit
		if b.profile != "" {
			v, err := x.runVegeta(ctx, b)
			if err != nil {
				return err
			}
			vegCPU = v.cpu
			vegRatio := v.t.rps() / pg.tps
			copy(row[6:], []string{rps(v.t.rps()), ms(v.t.q(0.5)), ms(v.t.q(0.99)), errorsCell(v.t), fmt.Sprintf("%.2f×", vegRatio)})
			cpu.Rows = append(cpu.Rows, append([]string{b.label, "vegeta"}, vegCPU.cells()...))
			x.s.Higher("vegeta_"+b.key+"_rps", v.t.rps())
			x.s.Higher("vegeta_"+b.key+"_vs_pgbench", vegRatio)
		}
		table.Rows = append(table.Rows, row)
		x.cpuMetrics(b, pg.cpu, w.cpu, vegCPU)
		if b.want > 0 {
			x.s.Targets = append(x.s.Targets, ratioTarget(b, ratio, w.Errors()))
		}
		if b.cpuWantUS > 0 {
			x.s.Targets = append(x.s.Targets, cpuTarget(b, w.cpu))
		}
		if prof != nil {
			profTables = append(profTables, profileTable(fmt.Sprintf("the wrk run of %s", b.label), b.profile, prof))
			profLabels, profs = append(profLabels, b.label), append(profs, prof)
		}
	}
	x.s.Tables = append(x.s.Tables, table, cpu)
	x.s.Tables = append(x.s.Tables, profTables...)
	if len(profs) > 0 {
		x.s.Tables = append(x.s.Tables, packageTable(profLabels, profs))
	}
	return nil
}

// vegetaRun is what the vegeta run of an operation got.
type vegetaRun struct {
	t   *tally
	cpu cpuSplit
}

// runVegeta runs b's closed loop with vegeta (every answer checked) and splits the CPU.
func (x *suite11) runVegeta(ctx context.Context, b baseline) (vegetaRun, error) {
	before := sampleCPU(x.r.srv.PID())
	out, _, err := x.r.step(ctx, load{name: b.key, clients: x.env.PoolSize, dur: x.env.Profile.Step, target: b.target(x.r.t), check: b.check})
	if err != nil {
		return vegetaRun{}, fmt.Errorf("load: HTTP %s: %w", b.label, err)
	}
	return vegetaRun{t: out.all, cpu: splitHTTP(before, sampleCPU(x.r.srv.PID()), out.all.requests())}, nil
}

// probe sends one request of b and checks the answer as the vegeta runs check every one:
// wrk reads no bodies.
func (x *suite11) probe(ctx context.Context, b baseline) error {
	var tgt vegeta.Target
	if err := b.target(x.r.t)(&tgt); err != nil {
		return err
	}
	req, err := tgt.Request()
	if err != nil {
		return err
	}
	resp, err := x.r.client.Do(req.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("load: probe %s: %w", b.label, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("load: probe %s: %w", b.label, err)
	}
	check := b.check
	if check == nil {
		check = expectStatus(nil)
	}
	if problem := check(&vegeta.Result{Method: req.Method, Code: uint16(resp.StatusCode), Body: body}); problem != "" {
		return fmt.Errorf("load: probe %s: %s", b.label, problem)
	}
	return nil
}

// wrkThroughput runs wrk at pool-size concurrency for b, under the profiler when b has a
// profile.
func (x *suite11) wrkThroughput(ctx context.Context, b baseline) (WrkResult, *cpuProfile, error) {
	run := x.wrkRun(b, x.env.PoolSize, "t", false)
	if b.profile == "" {
		w, err := x.runWrk(ctx, b, run)
		return w, nil, err
	}
	var w WrkResult
	prof, err := profiledRun(ctx, x.r, x.env, b.profile, int(pgbenchDuration(run.dur).Seconds()), func() error {
		var err error
		w, err = x.runWrk(ctx, b, run)
		return err
	})
	if err != nil {
		return w, nil, err
	}
	if x.env.OutDir != "" {
		x.s.Files = append(x.s.Files, b.profile)
	}
	return w, prof, nil
}

func (x *suite11) wrkRun(b baseline, conns int, tag string, histogram bool) wrkRun {
	x.seed++
	return wrkRun{script: x.lua[b.key], url: x.r.t.api + "/users", conns: conns, dur: x.env.Profile.Step,
		histogram: histogram, serverPID: x.r.srv.PID(), opts: []string{
			"token=" + perfkit.Token, "live=" + x.vars["live"], "per=" + x.vars["per"], "seed=" + itoa(x.seed),
			"prefix=" + x.r.t.prefix, "tag=" + tag,
		}}
}

// runWrk runs w for b, logs it into runs, and for a write checks what it stored: as many
// users as events, at least one per answer below 400, and at most one per request the
// script built (a request in flight when wrk stops may still commit, unanswered).
func (x *suite11) runWrk(ctx context.Context, b baseline, w wrkRun) (WrkResult, error) {
	var before [2]int64
	if b.rows == 0 {
		var err error
		if before, err = countUsersLike(ctx, x.env.DBURL, x.r.t.likePattern()); err != nil {
			return WrkResult{}, err
		}
	}
	res, err := runWrk(ctx, x.wrk, w)
	fmt.Fprintf(&x.runs, "$ wrk %s\n%s\n", strings.Join(w.args(), " "), res.output)
	if err != nil {
		return res, err
	}
	if b.rows != 0 {
		return res, nil
	}
	if err := x.settle(ctx); err != nil {
		return res, err
	}
	after, err := countUsersLike(ctx, x.env.DBURL, x.r.t.likePattern())
	if err != nil {
		return res, err
	}
	users, events := after[0]-before[0], after[1]-before[1]
	if users != events || users < res.OK() || users > res.sent {
		return res, fmt.Errorf("load: wrk %s: %d answers below 400 of %d requests built, but %d users and %d events stored",
			b.label, res.OK(), res.sent, users, events)
	}
	return res, nil
}

// settle waits (up to 5 s) until the service holds no database connection: the requests
// wrk left in flight when it stopped have finished.
func (x *suite11) settle(ctx context.Context) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, err := scrapePool(ctx, x.r.client, x.r.srv.metrics)
		if err != nil {
			return err
		}
		if p.InUse == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("load: the service still uses %.0f connections 5 s after wrk stopped", p.InUse)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// cpuMetrics records the CPU per request of b's runs, in µs.
func (x *suite11) cpuMetrics(b baseline, pg, w, veg cpuSplit) {
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	prefix := "cpu_us_per_" + b.key
	if pg.ok {
		x.s.Metric(prefix+"_pgbench", us(pg.total))
		x.s.Metric(prefix+"_pgbench_client", us(pg.client))
	}
	if w.ok {
		x.s.Metric(prefix+"_http", us(w.total))
		x.s.Metric(prefix+"_server", us(w.server))
		x.s.Metric(prefix+"_wrk_client", us(w.client))
	}
	if veg.ok {
		x.s.Metric(prefix+"_vegeta", us(veg.total))
		x.s.Metric(prefix+"_server_vegeta", us(veg.server))
		x.s.Metric(prefix+"_vegeta_client", us(veg.client))
	}
}

func ratioTarget(b baseline, ratio float64, httpErrors int64) perfkit.Target {
	tg := perfkit.Target{Name: fmt.Sprintf("HTTP %s vs the pgbench script (wrk)", b.label), Want: fmt.Sprintf("≥ %.2g×", b.want),
		Got: fmt.Sprintf("%.2f×", ratio), Met: ratio >= b.want && httpErrors == 0}
	switch {
	case ratio < b.want:
		tg.Gap = fmt.Sprintf("%.2f× short", b.want-ratio)
	case httpErrors > 0:
		tg.Gap = fmt.Sprintf("%d HTTP errors", httpErrors)
	}
	return tg
}

// cpuTarget states the bound on the service's CPU per request of b, from the wrk run.
func cpuTarget(b baseline, c cpuSplit) perfkit.Target {
	tg := perfkit.Target{Name: fmt.Sprintf("service CPU per %s (wrk run)", b.label), Want: fmt.Sprintf("≤ %.0f µs", b.cpuWantUS)}
	if !c.ok {
		tg.NotMeasured = "no CPU times: /proc could not be read"
		return tg
	}
	us := float64(c.server) / 1e3
	tg.Got, tg.Met = fmt.Sprintf("%.0f µs", us), us <= b.cpuWantUS
	if !tg.Met {
		tg.Gap = fmt.Sprintf("%.0f µs over", us-b.cpuWantUS)
	}
	return tg
}

func (x *suite11) notes() {
	clients, secs := x.env.PoolSize, int(pgbenchDuration(x.env.Profile.Step).Seconds())
	x.s.Notes = append(x.s.Notes,
		fmt.Sprintf("pgbench ran as `pgbench -n -M prepared -c %d -j %d -T %d %s -f SCRIPT DATABASE_URL` (with `-l --log-prefix …` for the latency runs); the scripts are in pgbench/ of the run folder.",
			clients, min(2, clients), secs, defines(x.vars)),
		fmt.Sprintf("wrk (%s) ran as `wrk -t %d -c %d -d %ds --timeout %ds --latency -s SCRIPT %s/users -- token=… live=%s per=%s seed=N prefix=%s tag=…`; "+
			"the scripts are in wrk/ of the run folder, every run's command and report in wrk/runs.txt.",
			WrkVersion(x.wrk), min(2, clients), clients, secs, int(wrkTimeout.Seconds()), x.r.t.api, x.vars["live"], x.vars["per"], x.r.t.prefix),
		"wrk counts answers ≥ 400 (its \"Non-2xx or 3xx responses\") and socket errors; any of them fails the run's targets. "+
			"It reads no bodies: the vegeta runs of GET and POST check every answer's status, and one request of the list and "+
			"of the email lookup is checked (status, a page that holds users) before their wrk runs. A POST run is checked by counting rows: the users and events it stored "+
			"must be equal, at least its answers below 400 and at most the requests its script built (one in flight when wrk "+
			"stops may still commit, unanswered), as pgbench's insert runs must store one user and one event per transaction.",
		"The service's CPU profile is recorded (Go's profiler at 100 Hz, on a listener of its own) during the wrk runs of "+
			"GET and POST, so their service CPU includes the profiler's small cost. Its CPU is read from /proc in 10 ms ticks; "+
			"pgbench's and wrk's from getrusage.",
		"pgbench's insert script gets the new user's id back with RETURNING (the app makes the id itself), and computes "+
			"ids and emails from a random number in SQL where the app binds values; otherwise the statements are the app's.",
		"Everything runs on one machine: the service's CPU is taken from PostgreSQL's, and so is the load generator's. "+
			"pgbench has no HTTP to pay for, which is part of what the ratio shows; on separate machines the ratio would be higher.")
}

// saveRuns writes every wrk command line and report into wrk/runs.txt of the run folder.
func (x *suite11) saveRuns() error {
	if x.env.OutDir == "" {
		return nil
	}
	return os.WriteFile(filepath.Join(x.env.OutDir, "wrk", "runs.txt"), []byte(x.runs.String()), 0o644)
}

func joinInts(xs []int, sep string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = itoa(x)
	}
	return strings.Join(parts, sep)
}
