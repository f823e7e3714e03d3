package faults_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"usersvc/tests/faultkit"
	"usersvc/tests/testapp"
)

// ourApp is the application_name the service's connections carry (service_name).
const ourApp = "usersvc"

// faultApp is one test's service: a fresh database on the package's cluster, a proxy in front
// of it, the real app talking to PostgreSQL through the proxy, and a pool of its own straight
// to the cluster (never through the proxy) for checking the database and for blockers.
type faultApp struct {
	*testapp.Server
	proxy  *faultkit.Proxy
	dbName string
	direct *pgxpool.Pool
}

// startApp creates and migrates a fresh database (migrations run straight on the cluster),
// puts a proxy in front of it and serves the app through the proxy, with env overriding the
// configuration (USERSVC_SECTION__KEY=value). Cleanup, in this order: the leak check
// (checkNoLeaks), the app, the proxy, the direct pool, the database.
func startApp(t *testing.T, env ...string) *faultApp {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	name := databaseName(t)
	adminExec(t, ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		adminExec(t, ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})

	direct, err := pgxpool.New(ctx, cluster.URL("postgres", name)+"&application_name=faults-inspector")
	require.NoError(t, err)
	t.Cleanup(direct.Close)

	proxy, err := faultkit.NewProxy(cluster.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { _ = proxy.Close() })

	s, err := testapp.StartOn(fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", proxy.Addr(), name), nil,
		testapp.Options{MigrateURL: cluster.URL("postgres", name), Env: env, NoEvents: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	a := &faultApp{Server: s, proxy: proxy, dbName: name, direct: direct}
	t.Cleanup(func() { a.checkNoLeaks(t) }) // runs first: while the app and its pool still live
	return a
}

var nonIdent = regexp.MustCompile(`[^a-z0-9]+`)

// databaseName is a fresh, valid database name derived from the test's name.
func databaseName(t *testing.T) string {
	base := nonIdent.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(base) > 40 {
		base = base[:40]
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "f_" + base + "_" + hex.EncodeToString(b[:])
}

func adminExec(t *testing.T, ctx context.Context, sql string) {
	t.Helper()
	admin, err := pgx.Connect(ctx, cluster.URL("postgres", "postgres"))
	require.NoError(t, err)
	defer admin.Close(ctx)
	_, err = admin.Exec(ctx, sql)
	require.NoError(t, err, sql)
}

// checkNoLeaks heals the proxy and then asserts that the app's pool has no connection in use
// and that no backend of ours (application_name usersvc, this test's database) is left idle in
// a transaction, as pg_stat_activity on the cluster itself sees it. Both are polled with a
// deadline: a backend whose client was cut notices only when it next reads its socket, and a
// chunk the proxy was delaying may still be on its way.
func (a *faultApp) checkNoLeaks(t *testing.T) {
	t.Helper()
	a.proxy.SetLatency(0)
	a.proxy.Blackhole(false)
	a.proxy.Refuse(false)
	a.proxy.CutAfterCommit(0)

	sqlDB, err := a.DB.DB()
	require.NoError(t, err)
	if !poll(10*time.Second, func() bool { return sqlDB.Stats().InUse == 0 }) {
		t.Errorf("leak: the app's pool still has connections in use: %+v", sqlDB.Stats())
	}

	var stuck []string
	ok := poll(10*time.Second, func() bool {
		stuck = a.idleInTransaction(t)
		return len(stuck) == 0
	})
	if !ok {
		t.Errorf("leak: backends of ours left idle in transaction: %v", stuck)
	}
}

// idleInTransaction lists this test's backends of ours that are idle in a transaction.
func (a *faultApp) idleInTransaction(t *testing.T) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := a.direct.Query(ctx, `SELECT pid, state, left(query, 60) FROM pg_stat_activity
		WHERE datname = $1 AND application_name = $2 AND state LIKE 'idle in transaction%'`, a.dbName, ourApp)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var pid int
		var state, query string
		require.NoError(t, rows.Scan(&pid, &state, &query))
		out = append(out, fmt.Sprintf("pid %d %s: %s", pid, state, query))
	}
	require.NoError(t, rows.Err())
	return out
}

// poll calls cond every 10 ms until it holds or timeout passes, and reports whether it held.
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// requirePoll fails the test when cond does not hold within timeout.
func requirePoll(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !poll(timeout, cond) {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}

// result is one request's outcome as a client saw it.
type result struct {
	resp    *testapp.Response
	err     error
	start   time.Time
	elapsed time.Duration
}

// call sends one request, bounded by a client-side deadline so a hung server fails the test
// instead of hanging it.
func (a *faultApp) call(method, path string, body any, headers ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	resp, err := a.Request(ctx, method, path, body, headers...)
	return result{resp: resp, err: err, start: start, elapsed: time.Since(start)}
}

// mustCall is call for the test goroutine: a transport error fails the test.
func (a *faultApp) mustCall(t *testing.T, method, path string, body any, headers ...string) result {
	t.Helper()
	r := a.call(method, path, body, headers...)
	require.NoError(t, r.err, "%s %s", method, path)
	return r
}

// detail is the problem+json detail of a response, "" if it has none.
func detail(r *testapp.Response) string {
	var p struct {
		Detail string `json:"detail"`
	}
	_ = json.Unmarshal(r.Body, &p)
	return p.Detail
}

// outcomeUnknown reports whether r is the 503 for a lost COMMIT.
func outcomeUnknown(r *testapp.Response) bool {
	return r.Status == http.StatusServiceUnavailable && strings.Contains(detail(r), "outcome unknown")
}

// requireUnavailable asserts r is a 503 with Retry-After.
func requireUnavailable(t *testing.T, r result, what string) {
	t.Helper()
	require.NoError(t, r.err, what)
	require.Equal(t, http.StatusServiceUnavailable, r.resp.Status, "%s: %s", what, r.resp.Body)
	require.NotEmpty(t, r.resp.Header.Get("Retry-After"), "%s: 503 without Retry-After", what)
}

type userOut struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Version  int    `json:"version"`
}

func registration(username string) map[string]string {
	return map[string]string{"username": username, "email": username + "@example.com", "full_name": "F " + username}
}

// createUser registers username through the API (no fault active) and returns its id.
func (a *faultApp) createUser(t *testing.T, username string) string {
	t.Helper()
	r := a.mustCall(t, http.MethodPost, "/api/v1/users", registration(username))
	require.Equal(t, http.StatusCreated, r.resp.Status, "%s", r.resp.Body)
	var u userOut
	r.resp.JSON(t, &u)
	return u.ID
}

// queryInt runs a query returning one integer straight on the cluster.
func (a *faultApp) queryInt(t *testing.T, sql string, args ...any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int
	require.NoError(t, a.direct.QueryRow(ctx, sql, args...).Scan(&n), sql)
	return n
}

// metric reads from /metrics the sum of the series of name whose labels contain every one of
// labels (e.g. `op="read"`); with no labels, all of its series (the value of an unlabelled
// metric); 0 when absent.
func (a *faultApp) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	r := a.mustCall(t, http.MethodGet, "/metrics", nil)
	require.Equal(t, http.StatusOK, r.resp.Status)
	sc := bufio.NewScanner(bytes.NewReader(r.resp.Body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	sum := 0.0
	for sc.Scan() {
		line := sc.Text()
		series, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		metricName, lbls, _ := strings.Cut(series, "{")
		if metricName != name {
			continue
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(lbls, l)
		}
		if match {
			v, err := strconv.ParseFloat(value, 64)
			require.NoError(t, err, line)
			sum += v
		}
	}
	require.NoError(t, sc.Err())
	return sum
}

// breakerState is usersvc_db_breaker_state: 0 closed, 1 half-open, 2 open.
func (a *faultApp) breakerState(t *testing.T) float64 {
	t.Helper()
	return a.metric(t, "usersvc_db_breaker_state")
}

// blocker opens a transaction straight on the cluster that locks the user's row until the
// returned release is called (also at cleanup).
func (a *faultApp) blocker(t *testing.T, id string) (tx pgx.Tx, release func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tx, err := a.direct.Begin(context.Background())
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "SELECT 1 FROM users WHERE id = $1 FOR UPDATE", id)
	require.NoError(t, err)
	done := false
	release = func() {
		if !done {
			done = true
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, tx.Rollback(ctx))
		}
	}
	t.Cleanup(release)
	return tx, release
}
