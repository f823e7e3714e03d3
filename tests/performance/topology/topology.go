// Package topology holds make perf's suite 12-topology: what the deployment topologies of
// scripts/cluster cost on this machine. PgBouncer in transaction mode against a direct
// connection (pgbench's select-only script, and the service's GET and POST with
// database.pooler=transaction), pgx's exec mode alone (the service direct, configured as if
// behind a pooler), and reads with one streaming replica against none (the service's GET
// by id and first page, and POST, whose Consistency-Token costs a read of
// pg_current_wal_lsn()). The topology is scripts/cluster's (a primary, an asynchronous
// standby, PgBouncer), made for the suite on free ports and destroyed when it ends; all of
// it shares the machine's CPUs with the service and the load generators.
package topology

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"usersvc/tests/performance/load"
	"usersvc/tests/performance/perfkit"
)

// Suites returns the suites of this package.
func Suites() []perfkit.Runner {
	return []perfkit.Runner{{ID: "12-topology", Run: run}}
}

const (
	pgbenchClients = 4       // pgbench -S's clients (-j 2)
	maxUsers       = 100_000 // the cluster's users: the run's, at most this many
	minReplicaPct  = 99.0    // share of a 1-replica run's reads the replica must serve
)

// plan sizes the suite for a profile. This VM's throughput moves by up to a third between
// identical runs seconds apart (pgbench -S -M prepared, 2 s each: 62k–95k TPS), so every
// configuration runs once per round, next to the one it is compared with, the order
// reversed in every other round, and the tables give medians and each ratio's per-round
// range: quick is 3 rounds of 1 s runs, full 5 rounds of 2 s.
type plan struct {
	rounds int
	dur    time.Duration
}

func planFor(p perfkit.Profile) plan {
	if p.Name == "quick" {
		return plan{rounds: 3, dur: time.Second}
	}
	return plan{rounds: 5, dur: 2 * time.Second}
}

// Service configurations, in the order of the tables.
const (
	cfgDirect  = "direct"
	cfgExec    = "exec"
	cfgPooler  = "pooler"
	cfgReplica = "replica"
)

var cfgLabels = map[string]string{
	cfgDirect:  "direct (default: pgx's cache of prepared statements)",
	cfgExec:    "direct, database.pooler=transaction (exec mode, SET LOCAL; no PgBouncer)",
	cfgPooler:  "through PgBouncer, database.pooler=transaction",
	cfgReplica: "direct + 1 replica (database.replicas = the standby)",
}

// pgCase is one pgbench configuration.
type pgCase struct {
	mode    string
	clients int
	pooler  bool
}

func (c pgCase) key() string {
	path := "direct"
	if c.pooler {
		path = "pooler"
	}
	return fmt.Sprintf("%s_c%d_%s", c.mode, c.clients, path)
}

var pgCases = []pgCase{
	{"simple", pgbenchClients, false}, {"simple", pgbenchClients, true},
	{"extended", pgbenchClients, false}, {"extended", pgbenchClients, true},
	{"prepared", pgbenchClients, false},
	{"extended", 1, false}, {"extended", 1, true},
}

// httpCase is one operation against one service configuration.
type httpCase struct{ op, cfg string }

func (c httpCase) key() string { return c.op + "_" + c.cfg }

// httpCases are grouped by operation; within a group the order alternates by round.
var httpCases = [][]httpCase{
	{{"get", cfgDirect}, {"get", cfgExec}, {"get", cfgPooler}, {"get", cfgReplica}},
	{{"list", cfgDirect}, {"list", cfgReplica}},
	{{"post", cfgDirect}, {"post", cfgExec}, {"post", cfgPooler}, {"post", cfgReplica}},
}

var opLabels = map[string]string{
	"get":  "GET /users/{id}",
	"list": "GET /users?limit=25",
	"post": "POST /users",
}

// httpSample is one wrk run of an httpCase.
type httpSample struct {
	res              wrkResult
	primary, replica float64 // reads served, from the service's metrics (replica configuration)
}

// suite is one run of the suite.
type suite struct {
	env      *perfkit.Env
	s        *perfkit.Suite
	plan     plan
	c        *cluster
	data     perfkit.SeedInfo
	pgbench  string
	wrk      string
	script   string // topology.lua's path
	q        *requests
	services map[string]*service
	pg       map[string][]pgbenchResult
	http     map[string][]httpSample
	runs     strings.Builder // every command and its report: topology/runs.txt
	seed     int
}

func run(ctx context.Context, env *perfkit.Env) (s perfkit.Suite, err error) {
	x := &suite{env: env, s: &s, plan: planFor(env.Profile), services: map[string]*service{},
		pg: map[string][]pgbenchResult{}, http: map[string][]httpSample{}}
	s = perfkit.Suite{ID: "12-topology", Title: "Topology: PgBouncer and a read replica", Summary: x.summary()}
	if x.pgbench, err = load.FindPgbench(); err != nil {
		return s, err
	}
	if x.wrk, err = load.FindWrk(); err != nil {
		return s, err
	}
	log := env.Log
	began := time.Now()
	c, err := startCluster(ctx)
	if err != nil {
		return s, err
	}
	x.c = c
	defer func() {
		if derr := c.destroy(); derr != nil {
			if err == nil {
				err = derr
			} else if log != nil {
				log.Warn("topology: destroying the cluster failed", "dir", c.dir, "err", derr)
			}
		}
	}()
	if x.data, err = seedCluster(ctx, c, x.pgbench, env.Data, maxUsers); err != nil {
		return s, err
	}
	if log != nil {
		log.Info("topology: cluster ready", "dir", c.dir, "users", x.data.Users, "took", time.Since(began).Round(time.Millisecond))
	}
	if err := x.writeScript(); err != nil {
		return s, err
	}
	defer func() {
		for _, svc := range x.services {
			if serr := svc.Stop(); serr != nil && err == nil {
				err = serr
			}
		}
	}()
	if err := x.startServices(ctx); err != nil {
		return s, err
	}
	for r := range x.plan.rounds {
		if err := x.round(ctx, r); err != nil {
			return s, err
		}
	}
	x.tables()
	return s, x.saveRuns()
}

func (x *suite) summary() string {
	p := x.plan
	reps := fmt.Sprintf("%d rounds, each configuration once per round next to the one it is compared with, the order "+
		"reversed every other round; medians, and each ratio's range over the rounds in brackets (this VM's throughput "+
		"moves by up to a third between identical runs)", p.rounds)
	return fmt.Sprintf("scripts/cluster's topology on this machine, made for the suite (a primary, an asynchronous streaming "+
		"standby, PgBouncer %s in transaction mode in front of the primary; fresh servers with the script's settings, on free "+
		"ports), seeded like the run's database (at most %d users) and destroyed at the end. (1) What PgBouncer costs per "+
		"query: pgbench's built-in select-only script (-S, one primary-key SELECT per transaction, scale 1) at %d clients "+
		"(-j 2) and at 1 client, directly and through PgBouncer, with -M simple and -M extended (-M prepared cannot go "+
		"through PgBouncer 1.18 in transaction mode: shown direct only, as the reference for the service's default). "+
		"(2) The service (pool %d, wrk with %d connections): GET /users/{id} and POST /users direct with the default "+
		"configuration, direct with database.pooler=transaction (pgx's exec mode and SET LOCAL statement_timeout, "+
		"without PgBouncer: that setting's cost alone), and through PgBouncer. (3) The service with "+
		"database.replicas = the standby against none: GET /users/{id}, the first page, and POST (with a replica "+
		"configured each write reads pg_current_wal_lsn() for its Consistency-Token). Every run %ds, %s; each round, and "+
		"each POST run, starts after VACUUM ANALYZE, CHECKPOINT and the standby's catching up. On one machine "+
		"a replica adds a server competing for the same two CPUs: this measures its overhead, never a speed-up. "+
		"CPU per operation is split by process from /proc (the service, PgBouncer, the load generator, and the rest: "+
		"both PostgreSQL servers and anything else).",
		pgbouncerVersion(), maxUsers, pgbenchClients, x.env.PoolSize, x.env.PoolSize, wholeSeconds(p.dur), reps)
}

// writeScript writes topology.lua into the run folder (or a temporary file).
func (x *suite) writeScript() error {
	dir := ""
	if x.env.OutDir != "" {
		dir = filepath.Join(x.env.OutDir, "topology")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		x.s.Files = append(x.s.Files, "topology/topology.lua", "topology/runs.txt")
	} else {
		dir = x.c.dir
	}
	var err error
	x.script, err = load.WriteWrkScript(dir, "topology.lua", wrkScript)
	return err
}

func (x *suite) saveRuns() error {
	if x.env.OutDir == "" {
		return nil
	}
	return os.WriteFile(filepath.Join(x.env.OutDir, "topology", "runs.txt"), []byte(x.runs.String()), 0o644)
}

// startServices starts the four configurations side by side (each idle while another is
// measured), warms each up and checks its answers.
func (x *suite) startServices(ctx context.Context) error {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	x.q = &requests{data: x.data, prefix: "tp" + hex.EncodeToString(b),
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}}}
	pooled := []string{"USERSVC_DATABASE__POOLER=transaction", "USERSVC_MIGRATIONS__URL=" + x.c.primary()}
	for _, sc := range []struct {
		cfg, url string
		extra    []string
	}{
		{cfgDirect, x.c.primary(), nil},
		{cfgExec, x.c.primary(), pooled},
		{cfgPooler, x.c.pooler(), pooled},
		{cfgReplica, x.c.primary(), []string{"USERSVC_DATABASE__REPLICAS=" + x.c.standby()}},
	} {
		svc, err := startService(ctx, x.env, sc.cfg, sc.url, sc.extra...)
		if err != nil {
			return err
		}
		x.services[sc.cfg] = svc
		if err := x.q.warm(ctx, svc, 2*x.env.PoolSize, 300*time.Millisecond); err != nil {
			return err
		}
		if err := x.q.probe(ctx, svc, len(x.services)); err != nil {
			return err
		}
	}
	return x.waitReplicaServes(ctx)
}

// waitReplicaServes waits (up to 10 s) until a GET to the replica configuration is served
// by the replica: it is used once its first samples find it fresh.
func (x *suite) waitReplicaServes(ctx context.Context) error {
	svc := x.services[cfgReplica]
	deadline := time.Now().Add(10 * time.Second)
	for n := 0; ; n++ {
		_, before, err := x.q.readsServed(ctx, svc)
		if err != nil {
			return err
		}
		if err := x.q.probe(ctx, svc, 100+n); err != nil {
			return err
		}
		_, after, err := x.q.readsServed(ctx, svc)
		if err != nil {
			return err
		}
		if after > before {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("topology: with database.replicas set, no GET was served by the replica within 10 s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// round runs every pgbench case, then every HTTP case, reversing the order within each
// group in odd rounds.
func (x *suite) round(ctx context.Context, r int) error {
	if err := x.settle(ctx); err != nil {
		return err
	}
	for _, c := range ordered(pgCases, r) {
		if err := x.runPgbench(ctx, c); err != nil {
			return err
		}
	}
	for _, group := range httpCases {
		for _, c := range ordered(group, r) {
			if c.op == "post" {
				// Each POST run leaves dead rows (the counters' rows are updated by every
				// insert) and WAL to replay: the next one must not pay for them.
				if err := x.settle(ctx); err != nil {
					return err
				}
			}
			if err := x.runHTTP(ctx, c); err != nil {
				return err
			}
		}
	}
	return nil
}

func ordered[T any](xs []T, round int) []T {
	out := make([]T, len(xs))
	for i, v := range xs {
		if round%2 == 1 {
			out[len(xs)-1-i] = v
		} else {
			out[i] = v
		}
	}
	return out
}

// settle vacuums and checkpoints the primary and waits until the standby has replayed it
// all: no run pays for the dead rows, dirty pages or WAL of the writes before it.
func (x *suite) settle(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, x.c.primary())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for _, sql := range []string{"VACUUM ANALYZE", "CHECKPOINT"} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("topology: settle: %s: %w", sql, err)
		}
	}
	return waitStandby(ctx, x.c)
}

func (x *suite) runPgbench(ctx context.Context, c pgCase) error {
	r := pgbenchRun{url: withDatabase(x.c.primary(), "bench"), mode: c.mode, clients: c.clients, dur: x.plan.dur}
	if c.pooler {
		r.url, r.poolerPID = withDatabase(x.c.pooler(), "bench"), x.c.poolerPID()
	}
	res, err := runPgbench(ctx, x.pgbench, r)
	fmt.Fprintf(&x.runs, "$ pgbench %s\ntps %.1f, latency average %.3f ms, %d transactions\n\n",
		strings.Join(r.args(), " "), res.tps, res.latencyMS, res.processed)
	if err != nil {
		return err
	}
	x.pg[c.key()] = append(x.pg[c.key()], res)
	return nil
}

func (x *suite) runHTTP(ctx context.Context, c httpCase) error {
	svc := x.services[c.cfg]
	x.seed++
	tag := "r" + strconv.Itoa(x.seed)
	w := wrkRun{script: x.script, url: svc.Base() + "/api/v1/users", conns: x.env.PoolSize, dur: x.plan.dur,
		servicePID: svc.PID(), opts: []string{"op=" + c.op, "token=" + perfkit.Token, "live=" + strconv.Itoa(live(x.data)),
			"per=" + strconv.Itoa(per(x.data)), "seed=" + strconv.Itoa(x.seed), "prefix=" + x.q.prefix, "tag=" + tag}}
	if c.cfg == cfgPooler {
		w.poolerPID = x.c.poolerPID()
	}
	var sample httpSample
	var p0, r0 float64
	if svc.replicas {
		var err error
		if p0, r0, err = x.q.readsServed(ctx, svc); err != nil {
			return err
		}
	}
	res, err := runWrk(ctx, x.wrk, w)
	fmt.Fprintf(&x.runs, "$ wrk %s\n%s\n", strings.Join(w.args(), " "), res.Output())
	if err != nil {
		return err
	}
	sample.res = res
	if svc.replicas {
		p1, r1, err := x.q.readsServed(ctx, svc)
		if err != nil {
			return err
		}
		sample.primary, sample.replica = p1-p0, r1-r0
	}
	if c.op == "post" {
		if err := x.checkStored(ctx, svc, res, tag); err != nil {
			return err
		}
	}
	x.http[c.key()] = append(x.http[c.key()], sample)
	return nil
}

// checkStored checks what a POST run stored: as many events as users, at least one user per
// answer below 400, at most one per request built (one in flight when wrk stopped may
// commit unanswered). It waits until the count stops changing.
func (x *suite) checkStored(ctx context.Context, svc *service, res wrkResult, tag string) error {
	conn, err := pgx.Connect(ctx, x.c.primary())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	pattern := x.q.prefix + `\_` + tag + ".%"
	var users, events, last int64 = 0, 0, -1
	for range 100 {
		err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM users WHERE username LIKE $1),
			(SELECT count(*) FROM user_events e JOIN users u ON u.id = e.user_id WHERE u.username LIKE $1)`, pattern).Scan(&users, &events)
		if err != nil {
			return fmt.Errorf("topology: count the users a POST run stored: %w", err)
		}
		if users == last && users == events {
			break
		}
		last = users
		time.Sleep(50 * time.Millisecond)
	}
	if users != events || users < res.OK() || users > res.Sent() {
		return fmt.Errorf("topology: wrk POST (%s): %d answers below 400 of %d requests built, but %d users and %d events stored",
			svc.name, res.OK(), res.Sent(), users, events)
	}
	return nil
}

// live and per address the seeded live users as the wrk script does.
func live(d perfkit.SeedInfo) int {
	if d.DeletedEvery > 0 {
		return d.Users - d.Users/d.DeletedEvery
	}
	return d.Users
}

func per(d perfkit.SeedInfo) int {
	if d.DeletedEvery > 0 {
		return d.DeletedEvery - 1
	}
	return d.Users + 1
}

// pgbouncerVersion is "1.18.0" from `pgbouncer --version`, or "" when it cannot be run.
func pgbouncerVersion() string {
	out, err := execOutput("pgbouncer", "--version")
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(out, "\n")
	return strings.TrimSpace(strings.TrimPrefix(line, "PgBouncer"))
}

// ratioCell is a÷b, with the per-round range when there are several rounds.
func ratioCell(a, b []float64) string {
	r := median(a) / median(b)
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "–"
	}
	cell := fmt.Sprintf("**%.2f×**", r)
	if len(a) > 1 && len(a) == len(b) {
		lo, hi := math.Inf(1), math.Inf(-1)
		for i := range a {
			v := a[i] / b[i]
			lo, hi = min(lo, v), max(hi, v)
		}
		cell += fmt.Sprintf(" (%.2f–%.2f)", lo, hi)
	}
	return cell
}
