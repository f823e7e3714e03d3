package testdb

import (
	"context"
	"fmt"
	"net/url"
	"os"

	"github.com/jackc/pgx/v5"
)

// PoolerAddr is host:port of the PgBouncer (transaction pooling) that the service under test
// reaches its database through: `make test-pgbouncer` runs the suite under
// `scripts/pgbouncer run`, which exports PGBOUNCER_ADDR. Empty: straight to the server.
func PoolerAddr() string { return os.Getenv("PGBOUNCER_ADDR") }

// ServiceEnv returns the configuration entries (KEY=value) that point the service at the
// test database dbURL: its URL, or, when PoolerAddr is set and dbURL is on the test server,
// the same database through the pooler with database.pooler=transaction and migrations
// straight to the server. Other URLs (a closed port, a fault test's own cluster) are kept.
func ServiceEnv(dbURL string) []string {
	addr := PoolerAddr()
	u, err := url.Parse(dbURL)
	admin, aerr := url.Parse(AdminURL())
	if addr == "" || err != nil || aerr != nil || u.Host != admin.Host {
		return []string{"DATABASE_URL=" + dbURL}
	}
	return []string{"DATABASE_URL=" + ThroughPooler(dbURL, addr), "USERSVC_DATABASE__POOLER=transaction", "USERSVC_MIGRATIONS__URL=" + dbURL}
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
