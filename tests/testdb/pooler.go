package testdb

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Pooler returns host:port of a PgBouncer in transaction mode in front of the test server:
// PoolerAddr when the suite already runs behind one, otherwise one started for t (with
// scripts/pgbouncer, which installs the Debian package when missing) and stopped after it.
func Pooler(t testing.TB) string {
	t.Helper()
	if addr := PoolerAddr(); addr != "" {
		return addr
	}
	admin, err := url.Parse(AdminURL())
	if err != nil {
		t.Fatalf("testdb: admin URL: %v", err)
	}
	port := admin.Port()
	if port == "" {
		port = "5432"
	}
	// Not t.TempDir: its parent is private to this user, and pgbouncer, started as root,
	// runs as postgres.
	dir, err := os.MkdirTemp("", "usersvc-pgbouncer-")
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	free := freePort(t)
	script := filepath.Join(repoRoot(), "scripts", "pgbouncer")
	args := []string{"--dir", dir, "--port", strconv.Itoa(free), "--upstream", admin.Hostname() + ":" + port}
	cmd := exec.Command(script, append([]string{"start"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testdb: scripts/pgbouncer start: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(script, "stop", "--dir", dir).CombinedOutput(); err != nil {
			t.Errorf("testdb: scripts/pgbouncer stop: %v\n%s", err, out)
		}
	})
	return fmt.Sprintf("127.0.0.1:%d", free)
}

// ThroughPooler is dbURL with its host and port replaced by the pooler's addr.
func ThroughPooler(dbURL, addr string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return dbURL
	}
	u.Host = addr
	return u.String()
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testdb: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// repoRoot is the module's root: this file's directory, two levels up.
func repoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		wd, _ := os.Getwd()
		return wd
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// PoolerClients counts the client connections that the pooler at addr holds for database
// (its admin console's SHOW CLIENTS): behind a pooler, the server's own connections outlive
// the service's, so "the service closed its connections" is read here.
func PoolerClients(ctx context.Context, addr, database string) (int, error) {
	conn, err := pgx.Connect(ctx, "postgres://postgres@"+addr+"/pgbouncer?sslmode=disable&default_query_exec_mode=simple_protocol")
	if err != nil {
		return 0, fmt.Errorf("testdb: pgbouncer admin console: %w", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SHOW CLIENTS")
	if err != nil {
		return 0, fmt.Errorf("testdb: SHOW CLIENTS: %w", err)
	}
	defer rows.Close()
	col := -1
	for i, f := range rows.FieldDescriptions() {
		if f.Name == "database" {
			col = i
		}
	}
	if col < 0 {
		return 0, fmt.Errorf("testdb: SHOW CLIENTS has no database column")
	}
	n := 0
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return 0, err
		}
		if s, _ := vals[col].(string); s == database {
			n++
		}
	}
	return n, rows.Err()
}
