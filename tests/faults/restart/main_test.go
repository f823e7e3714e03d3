// Package restart_test injects faults with PostgreSQL's own controls — serialization failures
// and deadlocks between real requests, pg_terminate_backend on every backend of ours, stopping
// and starting the whole cluster, a role's connection limit — against the real app served
// in-process, on a cluster this package starts for itself. Each test asserts what clients saw
// and then checks the database directly. Tests run one after another (no t.Parallel): some of
// them stop the shared cluster.
package restart_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"usersvc/tests/faultkit"
	"usersvc/tests/testapp"
)

// ourApp is the application_name of the service's connections (service_name's default).
const ourApp = "usersvc"

// inspectorApp is the application_name of the tests' own connections, so that terminating
// or counting "ours" never touches them.
const inspectorApp = "restart-inspector"

var cluster *faultkit.Cluster

func TestMain(m *testing.M) { os.Exit(faultkit.Main(m, &cluster)) }

var nonIdent = regexp.MustCompile(`[^a-z0-9]+`)

// newDatabase creates an empty database named after the test on the cluster and drops it
// when the test ends (after the app's own cleanups, which are registered later).
func newDatabase(t *testing.T) string {
	t.Helper()
	name := nonIdent.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 50 {
		name = name[:50]
	}
	adminExec(t, "postgres", "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	adminExec(t, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	t.Cleanup(func() {
		adminExec(t, "postgres", "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	return name
}

// adminConn connects to database as the superuser, straight to the cluster, closed when
// the test ends.
func adminConn(t *testing.T, database string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, cluster.URL("postgres", database)+"&application_name="+inspectorApp)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// adminExec runs one statement on database as the superuser over a connection of its own.
func adminExec(t *testing.T, database, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, cluster.URL("postgres", database)+"&application_name="+inspectorApp)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql, args...)
	require.NoError(t, err, "%s", sql)
}

// startApp serves the real app over dbURL. The Server it returns talks to a second listener
// in front of the same app handler, which stamps each response with the time the server
// took (serverTimeHeader), so latency bounds can be checked on the server's side as well as
// the client's. Cleanups: first the leak check (while the app and its pool still live), then
// the listeners and the app.
func startApp(t *testing.T, database, dbURL string, opts testapp.Options) *testapp.Server {
	t.Helper()
	opts.NoEvents = true // these faults are about requests; River's polling would only add noise
	s, err := testapp.StartOn(dbURL, nil, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	stamped := httptest.NewServer(stampServerTime(s.App.Handler()))
	t.Cleanup(stamped.Close)
	t.Cleanup(func() { checkNoLeaks(t, s, database) })
	front := *s // same app, token and pool; only the address differs (never Close this copy)
	front.URL = stamped.URL
	return &front
}

// serverTimeHeader carries, in nanoseconds, how long the handler took until it wrote the
// response header.
const serverTimeHeader = "X-Test-Server-Nanos"

func stampServerTime(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&stampWriter{ResponseWriter: w, start: time.Now()}, r)
	})
}

type stampWriter struct {
	http.ResponseWriter
	start time.Time
	wrote bool
}

func (w *stampWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		w.Header().Set(serverTimeHeader, strconv.FormatInt(int64(time.Since(w.start)), 10))
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *stampWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *stampWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// checkNoLeaks is the check every test ends with: the app's pool has no connection checked
// out, and no connection of ours sits idle in a transaction on the server. Both are polled
// until a deadline: handlers may still be returning connections.
func checkNoLeaks(t *testing.T, s *testapp.Server, database string) {
	t.Helper()
	sqlDB, err := s.DB.DB()
	require.NoError(t, err)
	deadline := time.Now().Add(5 * time.Second)
	for sqlDB.Stats().InUse > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := sqlDB.Stats().InUse; n != 0 {
		t.Errorf("leak: %d pool connections still in use 5s after the test", n)
	}

	conn := adminConn(t, database)
	var idleInTx int
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = $1 AND state LIKE 'idle in transaction%'`, ourApp).Scan(&idleInTx)
		cancel()
		require.NoError(t, err)
		if idleInTx == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if idleInTx != 0 {
		t.Errorf("leak: %d connections of ours idle in transaction", idleInTx)
	}
}

// waitFor polls cond every interval until it holds or timeout passes; it reports whether it
// held.
func waitFor(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
}

// lockWaiters counts our connections to database waiting for a lock. conn must not be inside
// a transaction: pg_stat_activity is read once per transaction.
func lockWaiters(t *testing.T, conn *pgx.Conn, database string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = $1 AND application_name = $2 AND wait_event_type = 'Lock'`, database, ourApp).Scan(&n))
	return n
}
