// Package apitest is what every module's API tests share: a server for the package's run,
// problem+json checks, a fingerprint of every module's stored rows, statement capture and
// EXPLAIN. Each module's tests live in a package of their own under tests/integration/.
package apitest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"usersvc/app"
	"usersvc/platform/db"
	"usersvc/platform/module"
	"usersvc/tests/testapp"
)

// Main is a TestMain body: it serves the app on a database labelled label for the package's
// tests, runs them, checks that no connection leaked, and closes the server.
func Main(m *testing.M, label string, srv **testapp.Server) int {
	var err error
	if *srv, err = testapp.Start(label, testapp.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "start test server:", err)
		return 1
	}
	code := m.Run()
	if err := CheckNoLeaks(*srv); err != nil {
		fmt.Fprintln(os.Stderr, "connection leak:", err)
		code = 1
	}
	if err := (*srv).Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close test server:", err)
		code = 1
	}
	return code
}

// CheckNoLeaks: no pooled connection is checked out and none of ours sits idle in a
// transaction on the server.
func CheckNoLeaks(srv *testapp.Server) error {
	sqlDB, err := srv.DB.DB()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Wait out requests (and event deliveries) still returning connections.
	for sqlDB.Stats().InUse > 0 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if n := sqlDB.Stats().InUse; n != 0 {
		return fmt.Errorf("%d pool connections still in use after the suite", n)
	}
	var idleInTx int
	err = sqlDB.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1 AND state LIKE 'idle in transaction%'`,
		srv.Cfg.ServiceName).Scan(&idleInTx)
	if err != nil {
		return err
	}
	if idleInTx != 0 {
		return fmt.Errorf("%d connections of ours idle in transaction", idleInTx)
	}
	return nil
}

// Unique returns a short random lowercase suffix, so tests do not collide on names.
func Unique() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Problem is a problem+json body.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// RequireProblem checks a problem+json answer with status and a detail containing want.
func RequireProblem(t *testing.T, resp *testapp.Response, status int, want string) Problem {
	t.Helper()
	require.Equal(t, status, resp.Status, "body: %s", resp.Body)
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	var p Problem
	resp.JSON(t, &p)
	require.Equal(t, status, p.Status)
	require.NotEmpty(t, p.Title)
	require.Contains(t, p.Detail, want)
	return p
}

// Tables are the tables every module owns (app.Modules; platform tables left out).
func Tables(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, m := range app.Modules(app.Deps{}) {
		tables, err := module.Tables(m)
		require.NoError(t, err)
		names = append(names, tables...)
	}
	return names
}

// Snapshot fingerprints every row of every module's tables, to prove a rejected request
// changed nothing.
func Snapshot(t *testing.T, srv *testapp.Server) string {
	t.Helper()
	parts := make([]string, 0)
	for _, table := range Tables(t) {
		parts = append(parts, fmt.Sprintf(`coalesce((SELECT string_agg(r::text, '|' ORDER BY r::text) FROM %q r), '')`, table))
	}
	var s string
	require.NoError(t, srv.DB.Raw(`SELECT md5(`+strings.Join(parts, ` || '#' || `)+`)`).Scan(&s).Error)
	return s
}

// Unchanged runs fn and fails if any module's stored rows differ afterwards.
func Unchanged(t *testing.T, srv *testapp.Server, fn func()) {
	t.Helper()
	before := Snapshot(t, srv)
	fn()
	require.Equal(t, before, Snapshot(t, srv), "stored rows changed")
}

// StatementLog records the SQL and arguments of every query the app sends through GORM.
type StatementLog struct {
	mu   sync.Mutex
	sqls []string
	args [][]any
}

// Record captures the queries (and row reads) of srv's app from now on.
func (l *StatementLog) Record(t *testing.T, srv *testapp.Server) {
	t.Helper()
	name := "test:record:" + Unique()
	require.NoError(t, srv.DB.Callback().Query().After("gorm:query").Register(name, l.record))
	require.NoError(t, srv.DB.Callback().Row().After("gorm:row").Register(name, l.record))
	stop, err := db.ObserveStatements(srv.DB, l.add)
	require.NoError(t, err)
	t.Cleanup(stop)
}

func (l *StatementLog) record(tx *gorm.DB) { l.add(tx.Statement.SQL.String(), tx.Statement.Vars) }

func (l *StatementLog) add(sql string, vars []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sqls = append(l.sqls, sql)
	l.args = append(l.args, append([]any(nil), vars...))
}

// Last returns the last recorded statement that contains fragment.
func (l *StatementLog) Last(t *testing.T, fragment string) (string, []any) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.sqls) - 1; i >= 0; i-- {
		if strings.Contains(l.sqls[i], fragment) {
			return l.sqls[i], l.args[i]
		}
	}
	t.Fatalf("no statement containing %q was sent", fragment)
	return "", nil
}

// Explain returns the JSON plan PostgreSQL chooses for sql with args.
func Explain(t *testing.T, srv *testapp.Server, sql string, args []any) string {
	t.Helper()
	sqlDB, err := srv.DB.DB()
	require.NoError(t, err)
	var raw []byte
	require.NoError(t, sqlDB.QueryRowContext(context.Background(), "EXPLAIN (FORMAT JSON) "+sql, args...).Scan(&raw))
	var pretty any
	require.NoError(t, json.Unmarshal(raw, &pretty))
	out, _ := json.MarshalIndent(pretty, "", " ")
	return string(out)
}

// IndexCase is a GET whose SQL (the last statement containing Fragment) must be answered
// from Indexes, without a sequential scan.
type IndexCase struct {
	Name, Path, Fragment string
	Indexes              []string
}

// RequireIndexes sends each case's request to srv, whose statements log records, and checks
// with EXPLAIN that PostgreSQL answers the SQL the app really sent from the intended indexes.
func RequireIndexes(t *testing.T, srv *testapp.Server, log *StatementLog, cases []IndexCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			resp := srv.Do(t, "GET", tc.Path, nil)
			require.Equal(t, 200, resp.Status, "%s", resp.Body)
			sql, args := log.Last(t, tc.Fragment)
			plan := Explain(t, srv, sql, args)
			for _, index := range tc.Indexes {
				require.Contains(t, plan, `"Index Name": "`+index, "plan of %s:\n%s", sql, plan)
			}
			require.NotContains(t, plan, `"Seq Scan"`, "plan of %s:\n%s", sql, plan)
		})
	}
}

// Index is an IndexCase.
func Index(name, path, fragment string, indexes ...string) IndexCase {
	return IndexCase{Name: name, Path: path, Fragment: fragment, Indexes: indexes}
}
