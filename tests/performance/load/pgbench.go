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
	lua        string // in wrk/, after common.lua
	rows       int    // rows the script's SELECT must return (0: a write, checked by counting)
	target     func(t *targets) vegeta.Targeter
	check      func(r *vegeta.Result) string
	want       float64 // the target for HTTP/pgbench; 0: none
	// The GET and POST: the service's CPU profile during the wrk run is saved as
	// profile, the service's CPU per request must stay under cpuWantUS, and p99 is compared
	// with pgbench's at p99Clients.
	profile   string
	cpuWantUS float64
}

var baselines = []baseline{
	{key: "get", label: "get by id (GET /users/{id})", script: "get_by_id.sql", lua: "get_by_id.lua", rows: 1,
		target: opGet.target, want: 0.5, profile: "cpu-get.pprof", cpuWantUS: 60},
	{key: "create", label: "insert user + event (POST /users)", script: "insert_user.sql", lua: "insert_user.lua",
		target: opPost.target, want: 0.8, profile: "cpu-post.pprof", cpuWantUS: 200},
	{key: "list", label: "first page of 25 (GET /users?limit=25)", script: "list_page.sql", lua: "list_page.lua", rows: pageRows,
		target: func(t *targets) vegeta.Targeter { return t.listPage }, check: bodyHas(`"items":[{"id":"`)},
	{key: "email", label: "lookup by email (GET /users?email=…)", script: "lookup_email.sql", lua: "lookup_email.lua", rows: 1,
		target: func(t *targets) vegeta.Targeter { return t.lookupEmail }, check: bodyHas(`"items":[{"id":"`)},
}

func pgbenchSuite() perfkit.Runner { return perfkit.Runner{ID: "11-pgbench", Run: runPgbench} }

// scriptDir is where the rendered scripts go: sub (pgbench, wrk) in the run folder, listed
// in the suite's files, so a reader can run them again; a temporary folder when there is none.
func scriptDir(env *perfkit.Env, s *perfkit.Suite, sub string, names []string) (dir string, remove func(), err error) {
	if env.OutDir == "" {
		dir, err := os.MkdirTemp("", "usersvc-"+sub+"-")
		return dir, func() { _ = os.RemoveAll(dir) }, err
	}
	dir = filepath.Join(env.OutDir, sub)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	for _, name := range names {
		s.Files = append(s.Files, sub+"/"+name)
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
	cpu       cpuSplit   // CPU per transaction, when /proc could be read
	latency   *Histogram // every transaction's latency, with pgbenchRun.logDir
}

// pgbenchRun is how pgbench runs a script.
type pgbenchRun struct {
	clients int
	// logDir, when set, has pgbench log every transaction (-l) into it; the latencies are
	// read into pgbenchResult.latency and the logs deleted.
	logDir string
}

// runScript runs pgbench with one script and checks that it did its work: no failed or
// aborted transaction, and for the insert script one user and one event per transaction.
func runScript(ctx context.Context, bin string, env *perfkit.Env, script string, b baseline, vars map[string]string, like string, run pgbenchRun) (pgbenchResult, error) {
	clients := run.clients
	args := []string{"-n", "-M", "prepared", "-c", itoa(clients), "-j", itoa(min(2, clients)),
		"-T", strconv.Itoa(int(pgbenchDuration(env.Profile.Step).Seconds())), "-f", script}
	logPrefix := ""
	if run.logDir != "" {
		logPrefix = filepath.Join(run.logDir, fmt.Sprintf("%s_c%d", b.key, clients))
		args = append(args, "-l", "--log-prefix", logPrefix)
	}
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
		res.cpu = splitChild(cpuBefore, cpuAfter, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime(), res.processed)
	}
	if err := errors.Join(runErr, parseErr); err != nil {
		if tooManyClients.MatchString(out.String()) {
			err = errors.Join(err, errTooManyClients)
		}
		return pgbenchResult{}, fmt.Errorf("load: pgbench %s: %w; its output:\n%s", b.script, err, out.String())
	}
	if logPrefix != "" {
		h, err := readPgbenchLogs(logPrefix)
		if err != nil {
			return pgbenchResult{}, fmt.Errorf("load: pgbench %s: %w", b.script, err)
		}
		if h.n != int64(res.processed) {
			return pgbenchResult{}, fmt.Errorf("load: pgbench %s processed %d transactions but logged %d", b.script, res.processed, h.n)
		}
		res.latency = h
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
	sum, err := ParsePgbench(out)
	return pgbenchResult{tps: sum.TPS, latencyMS: sum.LatencyMS, processed: sum.Processed}, err
}

// PgbenchSummary is what pgbench's summary says of a run.
type PgbenchSummary struct {
	TPS       float64 // without initial connection time
	LatencyMS float64 // average
	Processed int     // transactions
}

// ParsePgbench reads pgbench's summary; a run with failed transactions or none at all is
// an error.
func ParsePgbench(out string) (PgbenchSummary, error) {
	var res PgbenchSummary
	m := pgbenchTPS.FindStringSubmatch(out)
	if m == nil {
		return res, errors.New("no tps line in the output")
	}
	res.TPS, _ = strconv.ParseFloat(m[1], 64)
	if m := pgbenchLatency.FindStringSubmatch(out); m != nil {
		res.LatencyMS, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := pgbenchProcessed.FindStringSubmatch(out); m != nil {
		res.Processed, _ = strconv.Atoi(m[1])
	}
	if m := pgbenchFailed.FindStringSubmatch(out); m != nil && m[1] != "0" {
		return res, fmt.Errorf("%s failed transactions", m[1])
	}
	if res.Processed == 0 || res.TPS <= 0 {
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
