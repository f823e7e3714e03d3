package server_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestServeMigratesEmptyDatabase: with migrations.auto (the default) serve applies every
// migration before listening, so it is ready at once.
func TestServeMigratesEmptyDatabase(t *testing.T) {
	t.Parallel()
	dbURL := newDatabase(t, "serve_automigrate")
	s := serve(t, serverEnv(dbURL))
	s.waitReady(t)

	code, stdout, stderr := runToExit(t, 20*time.Second, serverEnv(dbURL), "migrate", "status")
	if code != 0 {
		t.Fatalf("migrate status: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "applied") || strings.Contains(stdout, "pending") {
		t.Errorf("migrate status after serve: want every migration applied, got:\n%s", stdout)
	}
	s.stop(t)
}

// TestServeWithoutAutoMigrate: with migrations.auto off on an empty database the server runs
// but is not ready, and says why; liveness does not depend on it. Once an operator migrates,
// it becomes ready without a restart.
func TestServeWithoutAutoMigrate(t *testing.T) {
	t.Parallel()
	dbURL := newDatabase(t, "serve_no_automigrate")
	s := serve(t, serverEnv(dbURL, "USERSVC_MIGRATIONS__AUTO=false"))

	r := s.do(t, http.MethodGet, "/readyz", "", "")
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("/readyz on an unmigrated database: %d %s; want 503", r.status, r.body)
	}
	if status, detail := r.problem(t); status != http.StatusServiceUnavailable || !strings.Contains(detail, "pending") {
		t.Errorf("/readyz problem: status %d, detail %q; want 503 naming pending migrations", status, detail)
	}
	if r := s.do(t, http.MethodGet, "/healthz", "", ""); r.status != http.StatusOK {
		t.Errorf("/healthz: %d %s; want 200 whatever the schema", r.status, r.body)
	}

	code, stdout, stderr := runToExit(t, 20*time.Second, serverEnv(dbURL), "migrate", "up")
	if code != 0 {
		t.Fatalf("migrate up: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "applied") {
		t.Errorf("migrate up printed no applied migration:\n%s", stdout)
	}
	s.waitReady(t)
	s.stop(t)
}

// TestServeRefusesWithoutTokens: serving an open API takes an explicit auth.disabled.
func TestServeRefusesWithoutTokens(t *testing.T) {
	t.Parallel()
	dbURL := newDatabase(t, "serve_no_tokens")
	env := serverEnv(dbURL, "API_TOKENS=")

	code, _, stderr := runToExit(t, 20*time.Second, env, "serve")
	if code != 2 {
		t.Fatalf("exit status %d; want 2\n%s", code, stderr)
	}
	if !strings.HasPrefix(stderr, "server: ") || !strings.Contains(stderr, "auth.tokens") {
		t.Errorf("stderr does not name auth.tokens:\n%s", stderr)
	}
	// The refusal comes before anything touches the database.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var migrated bool
	if err := connect(t, dbURL).QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&migrated); err != nil {
		t.Fatal(err)
	}
	if migrated {
		t.Error("the refused server migrated the database")
	}

	s := serve(t, append(env, "USERSVC_AUTH__DISABLED=true"))
	s.waitReady(t)
	if r := s.do(t, http.MethodGet, "/api/v1/users", "", ""); r.status != http.StatusOK {
		t.Errorf("GET /api/v1/users without a token, auth disabled: %d %s; want 200", r.status, r.body)
	}
	s.stop(t)
}

// TestConfigAndUsageErrors: bad configuration and bad command lines exit 2 with a message
// naming the problem, before any connection attempt (the database URL points at a closed
// port: reaching it would be exit 1).
func TestConfigAndUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	unknownKey := writeFile("unknown.yaml", "database:\n  max_open_con: 3\n")
	bareDuration := writeFile("bare.yaml", "http:\n  shutdown_grace: 10\n")
	env := serverEnv(fmt.Sprintf("postgres://postgres@127.0.0.1:%d/nodb?sslmode=disable", closedPort(t)))

	for _, tc := range []struct {
		name   string
		env    []string
		args   []string
		stderr []string // each must appear in stderr
		usage  bool     // the usage text follows the message
	}{
		{name: "int from env", env: []string{"USERSVC_DATABASE__MAX_OPEN_CONNS=abc"}, stderr: []string{"database.max_open_conns"}},
		{name: "duration from env", env: []string{"USERSVC_HTTP__SHUTDOWN_GRACE=soon"}, stderr: []string{"http.shutdown_grace"}},
		{name: "unknown key in --config file", args: []string{"--config", unknownKey}, stderr: []string{"max_open_con"}},
		{name: "unknown key in USERSVC_CONFIG file", env: []string{"USERSVC_CONFIG=" + unknownKey}, stderr: []string{"max_open_con"}},
		{name: "duration without unit in file", args: []string{"--config", bareDuration}, stderr: []string{"http.shutdown_grace"}},
		{name: "missing config file", args: []string{"--config", filepath.Join(dir, "missing.yaml")}, stderr: []string{"missing.yaml"}},
		{name: "validation", env: []string{"USERSVC_DATABASE__MAX_IDLE_CONNS=99"}, stderr: []string{"database.max_idle_conns"}},
		{name: "unknown command", args: []string{"bogus"}, stderr: []string{`unknown command "bogus"`}, usage: true},
		{name: "unknown flag", args: []string{"--verbose"}, stderr: []string{"verbose"}, usage: true},
		{name: "serve with arguments", args: []string{"serve", "now"}, usage: true},
		{name: "migrate without subcommand", args: []string{"migrate"}, usage: true},
		{name: "migrate sideways", args: []string{"migrate", "sideways"}, usage: true},
		{name: "migrate down --all --to", args: []string{"migrate", "down", "--all", "--to", "x"}, usage: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := runToExit(t, 10*time.Second, append(env[:len(env):len(env)], tc.env...), tc.args...)
			if code != 2 {
				t.Fatalf("exit status %d; want 2\nstderr:\n%s", code, stderr)
			}
			if !strings.HasPrefix(stderr, "server: ") {
				t.Errorf("stderr does not start with \"server: \":\n%s", stderr)
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr does not mention %q:\n%s", want, stderr)
				}
			}
			if got := strings.Contains(stderr, "usage: server"); got != tc.usage {
				t.Errorf("usage text shown: %v; want %v\nstderr:\n%s", got, tc.usage, stderr)
			}
		})
	}

	t.Run("help", func(t *testing.T) {
		t.Parallel()
		code, stdout, stderr := runToExit(t, 10*time.Second, env, "help")
		if code != 0 || !strings.Contains(stdout, "usage: server") || stderr != "" {
			t.Errorf("help: exit %d, stdout %q, stderr %q; want 0 with the usage on stdout", code, stdout, stderr)
		}
	})
}

// TestUnreachableDatabase: a database that cannot be reached is exit 1 within
// database.connect_timeout, with one line that says which server was meant and does not
// print the password.
func TestUnreachableDatabase(t *testing.T) {
	t.Parallel()
	const connectTimeout = 2 * time.Second

	silent := silentServer(t) // accepts TCP connections and never answers
	for _, tc := range []struct {
		name string
		port int
	}{
		{"closed port", closedPort(t)},
		{"server that never answers", silent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := serverEnv(fmt.Sprintf("postgres://u:secretpw@127.0.0.1:%d/nodb", tc.port),
				"USERSVC_DATABASE__CONNECT_TIMEOUT="+connectTimeout.String())
			began := time.Now()
			code, _, stderr := runToExit(t, connectTimeout+8*time.Second, env, "serve")
			if took := time.Since(began); took > connectTimeout+3*time.Second {
				t.Errorf("took %s to give up; want about database.connect_timeout (%s)", took, connectTimeout)
			}
			if code != 1 {
				t.Fatalf("exit status %d; want 1\n%s", code, stderr)
			}
			line := strings.TrimSuffix(stderr, "\n")
			if strings.Contains(line, "\n") || !strings.HasPrefix(line, "server: ") {
				t.Errorf("want exactly one line \"server: <reason>\" on stderr, got:\n%s", stderr)
			}
			for _, want := range []string{"127.0.0.1", strconv.Itoa(tc.port), "nodb"} {
				if !strings.Contains(line, want) {
					t.Errorf("message does not name %q: %s", want, line)
				}
			}
			if strings.Contains(stderr, "secretpw") {
				t.Errorf("message leaks the password: %s", stderr)
			}
		})
	}
}

// silentServer listens on a local port, accepts connections and never writes to them, like
// a host whose PostgreSQL hangs. It stops when the test ends.
func silentServer(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}
