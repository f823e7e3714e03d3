// Package testdb gives each test run a database of its own on a real PostgreSQL: a uniquely
// named database is created at the start and dropped at the end, so runs never see each
// other's rows and a dirty server never breaks CI. `make test` exports
// TEST_ADMIN_DATABASE_URL (see scripts/with-postgres); plain `go test` falls back to the
// server on 127.0.0.1:5432.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Prefix starts the name of every database this package creates.
const Prefix = "usersvc_test_"

const fallbackAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// staleAfter: databases of ours older than this are left over from killed runs and dropped.
const staleAfter = 6 * time.Hour

// AdminURL is the URL of the server's maintenance database used to create and drop databases.
func AdminURL() string {
	if u := os.Getenv("TEST_ADMIN_DATABASE_URL"); u != "" {
		return u
	}
	return fallbackAdminURL
}

// Create makes a new empty database named after label and returns its URL and a function
// that drops it.
func Create(label string) (dbURL string, drop func() error, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		return "", nil, fmt.Errorf("testdb: cannot reach the test PostgreSQL (run the tests with `make test`, "+
			"which finds or starts one, or set TEST_ADMIN_DATABASE_URL): %w", err)
	}
	defer admin.Close(ctx)
	dropStale(ctx, admin)

	name := Name(label)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("testdb: create %s: %w", name, err)
	}
	dbURL, err = withDatabase(AdminURL(), name)
	if err != nil {
		return "", nil, err
	}
	return dbURL, func() error { return Drop(name) }, nil
}

// Name returns a fresh database name: prefix, label, UTC time and randomness.
func Name(label string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	label = regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(label), "_")
	return fmt.Sprintf("%s%s_%s_%s", Prefix, label, time.Now().UTC().Format("20060102T150405"), hex.EncodeToString(b))
}

// Drop drops the database, disconnecting whoever is still connected.
func Drop(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		return fmt.Errorf("testdb: drop %s: %w", name, err)
	}
	defer admin.Close(ctx)
	_, err = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	if err != nil {
		return fmt.Errorf("testdb: drop %s: %w", name, err)
	}
	return nil
}

var stampPattern = regexp.MustCompile(`_(\d{8}T\d{6})_[0-9a-f]{8}$`)

// dropStale removes databases of ours left behind by runs that were killed before cleanup.
func dropStale(ctx context.Context, admin *pgx.Conn) {
	rows, err := admin.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE $1", Prefix+"%")
	if err != nil {
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, name := range names {
		m := stampPattern.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		at, err := time.Parse("20060102T150405", m[1])
		if err == nil && time.Since(at) > staleAfter {
			_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		}
	}
}

func withDatabase(rawURL, name string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return "", fmt.Errorf("testdb: TEST_ADMIN_DATABASE_URL must be a postgres:// URL")
	}
	u.Path = "/" + name
	return u.String(), nil
}
