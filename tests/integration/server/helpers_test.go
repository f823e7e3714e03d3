package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"usersvc/tests/testdb"
)

// token is the API token the servers under test accept.
const token = "integration-token-0123456789"

// appName is the application_name the server's connections carry by default (service_name).
const appName = "usersvc"

// newDatabase creates an empty database for one test and drops it when the test ends.
func newDatabase(t *testing.T, label string) string {
	t.Helper()
	url, drop, err := testdb.Create(label)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return url
}

// serverEnv is the environment of a server on dbURL, listening on a port of its own; extra
// entries (KEY=value) come last, so they replace earlier ones with the same name.
// Under `make test-pgbouncer` the server reaches a test database through the pooler.
func serverEnv(dbURL string, extra ...string) []string {
	return append(append(testdb.ServiceEnv(dbURL),
		"API_TOKENS=it:"+token,
		"HTTP_ADDR=127.0.0.1:0",
		"USERSVC_PAGINATION__CURSOR_SECRET=integration-cursor-secret-0123",
	), extra...)
}

// server is a running `server serve`.
type server struct {
	*process
	addr string
	base string // http://addr
}

// serve starts `server serve` with env and waits until it listens (after auto-migration).
func serve(t *testing.T, env []string) *server {
	t.Helper()
	p := start(t, env, "serve")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr, err := p.listenAddr(ctx)
	if err != nil {
		t.Fatalf("server did not start listening: %v", err)
	}
	documents.watch(t, addr, env)
	return &server{process: p, addr: addr, base: "http://" + addr}
}

// waitReady polls /readyz until it answers 200.
func (s *server) waitReady(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var last string
	err := eventually(ctx, 20*time.Millisecond, func() bool {
		r, err := s.request(ctx, http.MethodGet, "/readyz", "", "")
		if err != nil {
			last = err.Error()
			return false
		}
		last = fmt.Sprintf("%d %s", r.status, r.body)
		return r.status == http.StatusOK
	})
	if err != nil {
		t.Fatalf("/readyz never answered 200: %v; last: %s", err, last)
	}
}

// stop sends SIGTERM and requires a clean exit within a few seconds.
func (s *server) stop(t *testing.T) {
	t.Helper()
	s.signal(t, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, err := s.wait(ctx)
	if err != nil || code != 0 {
		t.Fatalf("after SIGTERM: exit status %d, %v; want 0", code, err)
	}
}

// response is what a request got back.
type response struct {
	status int
	header http.Header
	body   []byte
}

// problem decodes a problem+json body, failing the test when it is not one.
func (r *response) problem(t *testing.T) (status int, detail string) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Errorf("Content-Type = %q; want application/problem+json", ct)
	}
	var p struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("body is not JSON (%v): %s", err, r.body)
	}
	return p.Status, p.Detail
}

// client opens a new connection per request: no idle keep-alive connection survives to
// blur what a shutting-down server does with new connections. Every answer of a server
// serve started is validated against the OpenAPI document it serves (see documents).
var client = &http.Client{Transport: documents}

// request sends method path with an optional JSON body and bearer token ("" for none).
func (s *server) request(ctx context.Context, method, path, body, bearer string) (*response, error) {
	authorization := ""
	if bearer != "" {
		authorization = "Bearer " + bearer
	}
	return s.requestAuth(ctx, method, path, body, authorization)
}

// requestAuth is request with the Authorization header's whole value ("" for none).
func (s *server) requestAuth(ctx context.Context, method, path, body, authorization string) (*response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// do is request for the test goroutine, bounded by 10 seconds.
func (s *server) do(t *testing.T, method, path, body, bearer string) *response {
	t.Helper()
	authorization := ""
	if bearer != "" {
		authorization = "Bearer " + bearer
	}
	return s.doHeader(t, method, path, body, authorization)
}

// doHeader is do with the Authorization header's whole value ("" for none).
func (s *server) doHeader(t *testing.T, method, path, body, authorization string) *response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := s.requestAuth(ctx, method, path, body, authorization)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// connect opens a connection of the test's own (application_name server_test) to dbURL.
func connect(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "server_test"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(ctx)
	})
	return conn
}

// serverBackends counts the server's connections to conn's database, optionally only those
// waiting for a lock.
func serverBackends(ctx context.Context, conn *pgx.Conn, waitingOnLock bool) (int, error) {
	var n int
	err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1
		  AND (NOT $2 OR wait_event_type = 'Lock')`, appName, waitingOnLock).Scan(&n)
	return n, err
}

// eventually polls cond every interval until it holds or ctx ends.
func eventually(ctx context.Context, interval time.Duration, cond func() bool) error {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

// closedPort returns a local TCP port on which nothing listens (it was just released).
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}
