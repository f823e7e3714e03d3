// Package testapp starts the real service in-process for tests: its own freshly created and
// migrated database, the real wiring from app/, and an httptest server in front.
package testapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"gorm.io/gorm"

	"usersvc/app"
	"usersvc/platform/module"
	"usersvc/tests/testdb"
)

// Token is the secret of the API token test servers accept; TokenName is its name, the
// actor of the changes tests make.
const (
	Token     = "test-token-0123456789"
	TokenName = "tests"
)

// Server is a running service on a database of its own.
type Server struct {
	URL   string // base URL, e.g. http://127.0.0.1:34567
	DBURL string
	App   *app.App
	DB    *gorm.DB
	Cfg   app.Config

	http      *httptest.Server
	drop      func() error
	token     string
	ownership *module.Ownership
	openapi   *checker // validates every answer against the app's OpenAPI document
}

// Options adjust a test server.
type Options struct {
	NoMigrate bool // leave the database empty
	// MigrateURL, when set, is where migrations run (e.g. straight to the server while the
	// app itself talks through a fault-injecting proxy, or as a role with more rights).
	MigrateURL string
	Env        []string          // extra environment entries (KEY=value) for config loading
	Configure  func(*app.Config) // last word on the configuration
	// NoEvents leaves event delivery stopped (River's polling would add connections a
	// fault test counts); events are still published.
	NoEvents bool
	// Modules, when set, builds the modules to serve instead of the app's list: one module
	// with stubs of the contracts it uses, say.
	Modules func(app.Deps) []app.Module
}

// Start creates a database named after label, migrates it and serves the app over HTTP.
// Call Close when done: it stops the server, closes the pool and drops the database.
func Start(label string, opts Options) (*Server, error) {
	dbURL, drop, err := testdb.Create(label)
	if err != nil {
		return nil, err
	}
	// Under `make test-pgbouncer` the app goes through the pooler (Env comes after the
	// DATABASE_URL StartOn sets, so it wins); Server.DBURL stays the direct URL.
	opts.Env = append(testdb.ServiceEnv(dbURL), opts.Env...)
	return StartOn(dbURL, drop, opts)
}

// StartOn serves the app over the existing database dbURL (a fault test's own cluster, or a
// proxy in front of it); drop, if not nil, runs on Close.
func StartOn(dbURL string, drop func() error, opts Options) (*Server, error) {
	if drop == nil {
		drop = func() error { return nil }
	}
	environ := append([]string{
		"DATABASE_URL=" + dbURL,
		"API_TOKENS=" + TokenName + ":" + Token,
		// Tests send bursts (and wrong tokens) far beyond the default limits; the rate-limit
		// tests set their own.
		"USERSVC_RATE_LIMIT__PER_TOKEN=1000000", "USERSVC_RATE_LIMIT__TOKEN_BURST=1000000",
		"USERSVC_RATE_LIMIT__PER_CLIENT=1000000", "USERSVC_RATE_LIMIT__CLIENT_BURST=1000000",
		"USERSVC_PAGINATION__CURSOR_SECRET=test-cursor-secret-0123456789",
		"USERSVC_LOG__LEVEL=" + logLevel(),
		// Deliver events within a tenth of a second, and retry failures soon.
		"USERSVC_EVENTS__POLL_INTERVAL=100ms",
		"USERSVC_EVENTS__RETRY_BACKOFF=100ms",
	}, opts.Env...)
	cfg, err := app.LoadConfig("", environ)
	if err != nil {
		_ = drop()
		return nil, err
	}
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if logLevel() == "debug" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	modules := opts.Modules
	if modules == nil {
		modules = app.Modules
	}
	a, err := app.NewWith(ctx, cfg, log, modules)
	if err != nil {
		_ = drop()
		return nil, err
	}
	// Every test server checks that each module's SQL names only what it may (see
	// module.Ownership); Close fails on a violation.
	own, err := module.NewOwnership(a.Modules())
	if err == nil {
		err = own.Register(a.DB())
	}
	var openapi *checker
	if err == nil {
		openapi, err = newChecker(a)
	}
	if err != nil {
		_ = a.Close()
		_ = drop()
		return nil, err
	}
	if opts.MigrateURL != "" {
		err = migrateAt(ctx, cfg, opts.MigrateURL, log, modules)
	} else if !opts.NoMigrate {
		_, err = a.Migrator().Up(ctx, "")
	}
	if err == nil && !opts.NoEvents && !opts.NoMigrate {
		err = a.Events().Start(context.Background())
	}
	if err != nil {
		_ = a.Close()
		_ = drop()
		return nil, err
	}
	hs := httptest.NewServer(a.Handler())
	return &Server{URL: hs.URL, DBURL: dbURL, App: a, DB: a.DB(), Cfg: cfg, http: hs, drop: drop, token: Token, ownership: own, openapi: openapi}, nil
}

// migrateAt applies the migrations over a separate connection to dbURL.
func migrateAt(ctx context.Context, cfg app.Config, dbURL string, log *slog.Logger, modules func(app.Deps) []app.Module) error {
	cfg.Database.URL = dbURL
	m, err := app.NewWith(ctx, cfg, log, modules)
	if err != nil {
		return err
	}
	defer m.Close()
	_, err = m.Migrator().Up(ctx, "")
	return err
}

// logLevel is warn unless TEST_LOG_LEVEL asks for more.
func logLevel() string {
	if l := os.Getenv("TEST_LOG_LEVEL"); l != "" {
		return l
	}
	return "warn"
}

// Close stops the server, closes the pool and drops the database. It fails when a module's
// SQL named another module's table while the server ran.
func (s *Server) Close() error {
	s.http.Close()
	_ = s.App.Close()
	var errs []error
	for _, v := range s.ownership.Violations() {
		errs = append(errs, fmt.Errorf("table ownership: %s", v))
	}
	errs = append(errs, s.openapi.failures())
	return errors.Join(append(errs, s.drop())...)
}

// Response is what a request got back.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test when it is not JSON.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("response body is not JSON (%v): %s", err, r.Body)
	}
}

// Map decodes the body as a JSON object.
func (r *Response) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// Do sends an authenticated request. body is sent as JSON unless it is a string or []byte,
// which are sent as they are. headers are name, value pairs; a name with value "" removes the
// default (e.g. "Authorization", ""). An answer the OpenAPI document does not allow fails t.
func (s *Server) Do(t testing.TB, method, path string, body any, headers ...string) *Response {
	t.Helper()
	resp, err := s.Request(context.Background(), method, path, body, headers...)
	if err != nil && resp != nil {
		t.Error(err)
		return resp
	}
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// Request is Do without a testing.TB, for goroutines. An answer the OpenAPI document does not
// allow comes with an error saying why (and Close fails).
func (s *Server) Request(ctx context.Context, method, path string, body any, headers ...string) (*Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if len(headers)%2 != 0 {
		return nil, fmt.Errorf("headers must be name, value pairs")
	}
	for i := 0; i < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	var violation error
	resp, err := s.openapi.client.Do(req.WithContext(context.WithValue(ctx, violationKey{}, &violation)))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, violation
}
