package load

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"usersvc/tests/performance/perfkit"
)

//go:embed pgbench/*.sql
var pgbenchScripts embed.FS

// pageRows is what the app fetches for a page of 25: one row more tells whether a next
// page exists.
const pageRows = 26

// baseline is one operation measured as a pgbench script and through HTTP.
type baseline struct {
	key, label string
	script     string // in pgbench/
	rows       int    // rows the script's SELECT must return (0: a write, checked by counting)
	target     func(t *targets) vegeta.Targeter
	check      func(r *vegeta.Result) string
	want       float64 // the target for HTTP/pgbench; 0: none
}

var baselines = []baseline{
	{key: "get", label: "get by id (GET /users/{id})", script: "get_by_id.sql", rows: 1,
		target: opGet.target, want: 0.5},
	{key: "create", label: "insert user + event (POST /users)", script: "insert_user.sql",
		target: opPost.target, want: 0.6},
	{key: "list", label: "first page of 25 (GET /users?limit=25)", script: "list_page.sql", rows: pageRows,
		target: func(t *targets) vegeta.Targeter { return t.listPage }, check: bodyHas(`"items":[{"id":"`)},
	{key: "email", label: "lookup by email (GET /users?email=…)", script: "lookup_email.sql", rows: 1,
		target: func(t *targets) vegeta.Targeter { return t.lookupEmail }, check: bodyHas(`"items":[{"id":"`)},
}

func pgbenchSuite() perfkit.Runner { return perfkit.Runner{ID: "11-pgbench", Run: runPgbench} }

func runPgbench(ctx context.Context, env *perfkit.Env) (s perfkit.Suite, err error) {
	bin, err := FindPgbench()
	if err != nil {
		return s, err
	}
	clients := env.PoolSize
	s = perfkit.Suite{ID: "11-pgbench", Title: "The app vs pgbench on the same SQL", Summary: fmt.Sprintf(
		"For each operation, pgbench replays the SQL GORM sends for it (custom scripts, -M prepared like the "+
			"app's pgx extended protocol with its statement cache, %d clients = the pool size, -j %d, -n, -T %s) on the "+
			"run's database, and right after it the real binary (pool %d) gets the same operation through HTTP "+
			"from %d clients for %s (closed loop, vegeta). The ratio HTTP req/s ÷ pgbench TPS is what the "+
			"service keeps of what PostgreSQL can do here: the rest is HTTP, JSON, GORM, database/sql, the "+
			"resilience layers, and sharing the CPUs with the load generator. Reads address seeded live users only.",
		clients, min(2, clients), pgbenchDuration(env.Profile.Step), env.PoolSize, clients, env.Profile.Step)}
	if env.Data.DeletedEvery == 1 || env.Data.Users < pageRows {
		return s, fmt.Errorf("load: pgbench needs at least %d seeded users, most of them live (got %+v)", pageRows, env.Data)
	}
	dir, removeDir, err := scriptDir(env, &s)
	if err != nil {
		return s, err
	}
	defer removeDir()

	r, err := newRig(env)
	if err != nil {
		return s, err
	}
	defer r.finish(ctx, &s, &err)
	if err := r.start(ctx, env.PoolSize); err != nil {
		return s, err
	}
	vars := pgbenchVars(env.Data, r.t.prefix)
	table := perfkit.Table{
		Caption: fmt.Sprintf("%d clients on both sides; pgbench -M prepared, -T %s; HTTP closed loop for %s",
			clients, pgbenchDuration(env.Profile.Step), env.Profile.Step),
		Header: []string{"Operation", "pgbench TPS", "pgbench latency ms", "HTTP req/s", "HTTP p50 ms", "HTTP p99 ms", "HTTP errors", "HTTP ÷ pgbench"},
	}
	cpu := perfkit.Table{
		Caption: "Where the CPU goes, in µs of CPU per transaction (pgbench) or request (HTTP), from /proc: " +
			"client is pgbench or the Go load generator; database is the rest of the machine (PostgreSQL and anything else running)",
		Header: []string{"Operation", "Side", "total µs", "server µs", "client µs", "database µs"},
	}
	for _, b := range baselines {
		script, err := renderScript(dir, b.script)
		if err != nil {
			return s, err
		}
		if err := checkScript(ctx, env.DBURL, b, vars); err != nil {
			return s, err
		}
		pg, err := runScript(ctx, bin, env, script, b, vars, r.t.likePattern())
		if err != nil {
			return s, err
		}
		before := sampleCPU(r.srv.pid())
		out, _, err := r.step(ctx, load{name: b.key, clients: clients, dur: env.Profile.Step, target: b.target(r.t), check: b.check})
		if err != nil {
			return s, fmt.Errorf("load: HTTP %s: %w", b.label, err)
		}
		t := out.all
		httpCPU := splitHTTP(before, sampleCPU(r.srv.pid()), t.requests())
		cpu.Rows = append(cpu.Rows, append([]string{b.label, "pgbench"}, pg.cpu.cells()...),
			append([]string{b.label, "HTTP"}, httpCPU.cells()...))
		if pg.cpu.ok && httpCPU.ok {
			s.Metric("cpu_us_per_"+b.key+"_pgbench", float64(pg.cpu.total)/1e3)
			s.Metric("cpu_us_per_"+b.key+"_http", float64(httpCPU.total)/1e3)
			s.Metric("cpu_us_per_"+b.key+"_server", float64(httpCPU.server)/1e3)
		}
		ratio := t.rps() / pg.tps
		table.Rows = append(table.Rows, []string{b.label, rps(pg.tps), fmt.Sprintf("%.3f", pg.latencyMS), rps(t.rps()),
			ms(t.q(0.5)), ms(t.q(0.99)), errorsCell(t), fmt.Sprintf("%.2f×", ratio)})
		s.Higher("pgbench_"+b.key+"_tps", pg.tps)
		s.Higher("http_"+b.key+"_rps", t.rps())
		s.Higher("ratio.http_"+b.key+"_vs_pgbench", ratio)
		if b.want > 0 {
			s.Targets = append(s.Targets, ratioTarget(b, ratio, t.bad))
		}
	}
	s.Tables = append(s.Tables, table, cpu)
	s.Notes = append(s.Notes,
		fmt.Sprintf("pgbench ran as `pgbench -n -M prepared -c %d -j %d -T %d %s -f SCRIPT DATABASE_URL`; the scripts are in pgbench/ of the run folder.",
			clients, min(2, clients), int(pgbenchDuration(env.Profile.Step).Seconds()), defines(vars)),
		"pgbench's insert script gets the new user's id back with RETURNING (the app makes the id itself), and computes "+
			"ids and emails from a random number in SQL where the app binds values; otherwise the statements are the app's.",
		"Both sides run on the same machine as PostgreSQL; pgbench (C, no HTTP) leaves more CPU to the database than "+
			"the Go load generator and the service do, which is part of what the ratio shows.")
	return s, nil
}

func ratioTarget(b baseline, ratio float64, httpErrors int) perfkit.Target {
	tg := perfkit.Target{Name: fmt.Sprintf("HTTP %s vs the pgbench script", b.label), Want: fmt.Sprintf("≥ %.2g×", b.want),
		Got: fmt.Sprintf("%.2f×", ratio), Met: ratio >= b.want && httpErrors == 0}
	switch {
	case ratio < b.want:
		tg.Gap = fmt.Sprintf("%.2f× short", b.want-ratio)
	case httpErrors > 0:
		tg.Gap = fmt.Sprintf("%d HTTP errors", httpErrors)
	}
	return tg
}

// scriptDir is where the rendered scripts go: pgbench/ in the run folder, listed in the
// suite's files, so a reader can run them again; a temporary folder when there is none.
func scriptDir(env *perfkit.Env, s *perfkit.Suite) (dir string, remove func(), err error) {
	if env.OutDir == "" {
		dir, err := os.MkdirTemp("", "usersvc-pgbench-")
		return dir, func() { _ = os.RemoveAll(dir) }, err
	}
	dir = filepath.Join(env.OutDir, "pgbench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	for _, b := range baselines {
		s.Files = append(s.Files, "pgbench/"+b.script)
	}
	return dir, func() {}, nil
}

// defines are the -D options for vars, sorted.
func defines(vars map[string]string) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		parts = append(parts, "-D "+name+"="+vars[name])
	}
	return strings.Join(parts, " ")
}

// pgbenchDuration is the -T value for a step: whole seconds, at least 1.
func pgbenchDuration(step time.Duration) time.Duration {
	return time.Duration(max(1, int(math.Round(step.Seconds())))) * time.Second
}

// pgbenchVars are the scripts' -D variables.
func pgbenchVars(d perfkit.SeedInfo, prefix string) map[string]string {
	live, per := d.Users, d.Users+1 // no deleted users: k is the user
	if d.DeletedEvery > 0 {
		live, per = d.Users-d.Users/d.DeletedEvery, d.DeletedEvery-1
	}
	return map[string]string{"live": itoa(live), "per": itoa(per), "take": "1", "limit": itoa(pageRows), "prefix": prefix}
}

// nthLive is the seeded user the scripts read for k (1 ≤ k ≤ live): the k-th live one.
func nthLive(k, per int) int { return k + (k-1)/per }

// renderScript writes the embedded script name into dir with perfkit.IDSQL in place of
// {{ID}}, and returns its path.
func renderScript(dir, name string) (string, error) {
	src, err := pgbenchScripts.ReadFile("pgbench/" + name)
	if err != nil {
		return "", err
	}
	text := strings.ReplaceAll(string(src), "{{ID}}", perfkit.IDSQL)
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, []byte(text), 0o644)
}

var scriptVar = regexp.MustCompile(`:([a-z_]+)`)

// checkScript runs a read script's SELECT once for the first and the last live user (with
// the variables as literals) and fails unless it returns b.rows rows: a script that finds
// nothing would measure misses and look fast.
func checkScript(ctx context.Context, dbURL string, b baseline, vars map[string]string) error {
	if b.rows == 0 {
		return nil
	}
	src, err := pgbenchScripts.ReadFile("pgbench/" + b.script)
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSpace(string(src)), "\n")
	query := strings.ReplaceAll(lines[len(lines)-1], "{{ID}}", perfkit.IDSQL)
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("load: check %s: %w", b.script, err)
	}
	defer conn.Close(context.Background())
	live, _ := strconv.Atoi(vars["live"])
	per, _ := strconv.Atoi(vars["per"])
	for _, k := range []int{1, live} {
		values := map[string]string{"n": itoa(nthLive(k, per))}
		for name, v := range vars {
			values[name] = v
		}
		sql := scriptVar.ReplaceAllStringFunc(query, func(m string) string {
			if v, ok := values[m[1:]]; ok {
				return v
			}
			return m
		})
		rows, err := conn.Query(ctx, sql)
		if err != nil {
			return fmt.Errorf("load: check %s: %w", b.script, err)
		}
		n := 0
		for rows.Next() {
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("load: check %s: %w", b.script, err)
		}
		if n != b.rows {
			return fmt.Errorf("load: %s returns %d rows for live user %d of %d, want %d: the script would not measure what the app does",
				b.script, n, k, live, b.rows)
		}
	}
	return nil
}

// pgbenchResult is what one pgbench run reported.
type pgbenchResult struct {
	tps       float64 // without initial connection time
	latencyMS float64 // average
	processed int
	cpu       cpuSplit // CPU per transaction, when /proc could be read
}

// runScript runs pgbench with one script and checks that it did its work: no failed or
// aborted transaction, and for the insert script one user and one event per transaction.
func runScript(ctx context.Context, bin string, env *perfkit.Env, script string, b baseline, vars map[string]string, like string) (pgbenchResult, error) {
	clients := env.PoolSize
	args := []string{"-n", "-M", "prepared", "-c", itoa(clients), "-j", itoa(min(2, clients)),
		"-T", strconv.Itoa(int(pgbenchDuration(env.Profile.Step).Seconds())), "-f", script}
	args = append(args, strings.Fields(defines(vars))...)
	args = append(args, env.DBURL)
	var before [2]int64
	if b.rows == 0 {
		var err error
		if before, err = countUsersLike(ctx, env.DBURL, like); err != nil {
			return pgbenchResult{}, err
		}
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "PGAPPNAME="+perfkit.ApplicationName+"-pgbench")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cpuBefore := sampleCPU(0)
	runErr := cmd.Run()
	cpuAfter := sampleCPU(0)
	res, parseErr := parsePgbench(out.String())
	if cmd.ProcessState != nil {
		res.cpu = splitPgbench(cpuBefore, cpuAfter, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime(), res.processed)
	}
	if err := errors.Join(runErr, parseErr); err != nil {
		return pgbenchResult{}, fmt.Errorf("load: pgbench %s: %w; its output:\n%s", b.script, err, out.String())
	}
	if b.rows == 0 {
		after, err := countUsersLike(ctx, env.DBURL, like)
		if err != nil {
			return pgbenchResult{}, err
		}
		if users, events := after[0]-before[0], after[1]-before[1]; users != int64(res.processed) || events != int64(res.processed) {
			return pgbenchResult{}, fmt.Errorf("load: pgbench %s reported %d transactions but stored %d users and %d events",
				b.script, res.processed, users, events)
		}
	}
	return res, nil
}

var (
	// pgbench 14+ says "without initial connection time", 13 "excluding connections establishing".
	pgbenchTPS       = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \((?:without initial connection time|excluding connections establishing)\)`)
	pgbenchLatency   = regexp.MustCompile(`(?m)^latency average = ([0-9.]+) ms`)
	pgbenchProcessed = regexp.MustCompile(`(?m)^number of transactions actually processed: (\d+)`)
	pgbenchFailed    = regexp.MustCompile(`(?m)^number of failed transactions: (\d+)`)
)

// parsePgbench reads pgbench's summary; a run with failed transactions or none at all is
// an error.
func parsePgbench(out string) (pgbenchResult, error) {
	var res pgbenchResult
	m := pgbenchTPS.FindStringSubmatch(out)
	if m == nil {
		return res, errors.New("no tps line in the output")
	}
	res.tps, _ = strconv.ParseFloat(m[1], 64)
	if m := pgbenchLatency.FindStringSubmatch(out); m != nil {
		res.latencyMS, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := pgbenchProcessed.FindStringSubmatch(out); m != nil {
		res.processed, _ = strconv.Atoi(m[1])
	}
	if m := pgbenchFailed.FindStringSubmatch(out); m != nil && m[1] != "0" {
		return res, fmt.Errorf("%s failed transactions", m[1])
	}
	if res.processed == 0 || res.tps <= 0 {
		return res, errors.New("no transaction was processed")
	}
	return res, nil
}

// countUsersLike counts the users whose username is LIKE pattern, and their events.
func countUsersLike(ctx context.Context, dbURL, pattern string) ([2]int64, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return [2]int64{}, fmt.Errorf("load: count rows: %w", err)
	}
	defer conn.Close(context.Background())
	var n [2]int64
	err = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM users WHERE username LIKE $1),
		(SELECT count(*) FROM user_events e JOIN users u ON u.id = e.user_id WHERE u.username LIKE $1)`, pattern).Scan(&n[0], &n[1])
	if err != nil {
		return n, fmt.Errorf("load: count rows: %w", err)
	}
	return n, nil
}

// FindPgbench finds pgbench on PATH or in Debian's PostgreSQL directories (newest first).
func FindPgbench() (string, error) {
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
	if len(found) > 0 {
		slices.SortFunc(found, func(a, b string) int { return versionOf(b) - versionOf(a) })
		return found[0], nil
	}
	return "", errors.New("load: pgbench not found (neither on PATH nor in /usr/lib/postgresql/*/bin): " +
		"it ships with the PostgreSQL server package, on Debian postgresql-15 (apt-get install postgresql)")
}

func versionOf(path string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return v
}

// bodyHas accepts a 200 whose body contains want.
func bodyHas(want string) func(r *vegeta.Result) string {
	return func(r *vegeta.Result) string {
		if r.Code != 200 {
			return problemLabel(r)
		}
		if !bytes.Contains(r.Body, []byte(want)) {
			return r.Method + " 200 without " + want
		}
		return ""
	}
}
