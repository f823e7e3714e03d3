package migrations_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"usersvc/app"
	"usersvc/migrations"
	"usersvc/platform/db"
	"usersvc/tests/testdb"
)

// The two migrations some tests act on by name: the first two of the plan, the users
// table and its events (TestPlanStartsWithTheUsersTables checks it). Everything else is
// read from the plan app/ builds, so a new migration of any module changes nothing here.
const (
	createUsersID      = "202611250001_create_users"
	createUserEventsID = "202611250002_create_user_events"
)

// appIDs are the IDs of the service's plan, in order.
func appIDs(t *testing.T) []string { return ids(appPlan(t)) }

// quiet discards the logging of the code under test; failures speak through errors.
var quiet = slog.New(slog.DiscardHandler)

// newDatabase creates an empty database of t's own and drops it when t ends.
func newDatabase(t *testing.T, label string) string {
	t.Helper()
	url, drop, err := testdb.Create(label)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, drop()) })
	return url
}

// newApp wires the real service over dbURL, configured the way the binary is (from the
// environment), and closes it when t ends.
func newApp(t *testing.T, dbURL string) *app.App {
	t.Helper()
	cfg, err := app.LoadConfig("", []string{"DATABASE_URL=" + dbURL})
	require.NoError(t, err)
	a, err := app.New(t.Context(), cfg, quiet)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, a.Close()) })
	return a
}

// openGorm opens a pool the way the service does (platform/db), closed when t ends.
func openGorm(t *testing.T, dbURL string) *gorm.DB {
	t.Helper()
	gdb, err := db.Open(t.Context(), db.Config{
		URL: dbURL, ApplicationName: "migrations_test", StatementTimeout: 5 * time.Second,
		MaxOpenConns: 4, MaxIdleConns: 4, ConnectTimeout: 5 * time.Second,
	}, quiet)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, db.Close(gdb)) })
	return gdb
}

// newRunner returns a Runner over its own pool on dbURL for a plan the test builds.
func newRunner(t *testing.T, dbURL string, plan []*gormigrate.Migration, opts migrations.Options) *migrations.Runner {
	t.Helper()
	if opts.LockTimeout == 0 {
		opts.LockTimeout = 10 * time.Second
	}
	opts.Logger = quiet
	return migrations.NewRunner(openGorm(t, dbURL), plan, opts)
}

// connect opens a plain pgx connection for the test's own queries (independent of GORM and
// of the code under test), closed when t ends.
func connect(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// appPlan is the ordered list of every module's migrations, built as app/ builds it.
// app.Modules accepts zero Deps: constructing a module touches neither the database nor the
// cursor signer, only serving requests does.
func appPlan(t *testing.T) []*gormigrate.Migration {
	t.Helper()
	plan, err := app.Plan(app.Modules(app.Deps{}))
	require.NoError(t, err)
	require.NotEmpty(t, plan)
	return plan
}

// testPlan is the service's plan with extra (test-only) migrations merged in.
func testPlan(t *testing.T, extra ...*gormigrate.Migration) []*gormigrate.Migration {
	t.Helper()
	plan, err := migrations.Plan(appPlan(t), extra)
	require.NoError(t, err)
	return plan
}

func ids(plan []*gormigrate.Migration) []string {
	out := make([]string, len(plan))
	for i, m := range plan {
		out[i] = m.ID
	}
	return out
}

// reversed returns a reversed copy of s.
func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

// relationExists reports whether a table (or other relation) of that name is visible.
func relationExists(t *testing.T, conn *pgx.Conn, name string) bool {
	t.Helper()
	var ok bool
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&ok))
	return ok
}

// columnExists reports whether table has a column of that name.
func columnExists(t *testing.T, conn *pgx.Conn, table, column string) bool {
	t.Helper()
	var ok bool
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT EXISTS (SELECT FROM information_schema.columns
		WHERE table_schema = 'public' AND table_name = $1 AND column_name = $2)`, table, column).Scan(&ok))
	return ok
}

// recorded returns the IDs in gormigrate's table and in our history table, each sorted.
func recorded(t *testing.T, conn *pgx.Conn) (idsTable, history []string) {
	t.Helper()
	return queryStrings(t, conn, `SELECT id FROM schema_migrations ORDER BY id`),
		queryStrings(t, conn, `SELECT id FROM schema_migrations_history ORDER BY id`)
}

func queryStrings(t *testing.T, conn *pgx.Conn, sql string, args ...any) []string {
	t.Helper()
	rows, err := conn.Query(t.Context(), sql, args...)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

// serverNow is the database server's clock, which stamps applied_at.
func serverNow(t *testing.T, conn *pgx.Conn) time.Time {
	t.Helper()
	var now time.Time
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT clock_timestamp()`).Scan(&now))
	return now
}

// waitFor polls cond, in the test's goroutine, until it holds; it fails the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// statusByID indexes statuses by migration ID.
func statusByID(st []migrations.Status) map[string]migrations.Status {
	out := make(map[string]migrations.Status, len(st))
	for _, s := range st {
		out[s.ID] = s
	}
	return out
}
