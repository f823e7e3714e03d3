package app

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/v2"

	"usersvc/configs"
)

const (
	tokenA = "a:token-a-0123456789abcdef"
	tokenB = "b:token-b-0123456789abcdef"
)

// writeConfig writes a YAML configuration file for one test and returns its path.
func writeConfig(t *testing.T, yamlText string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(yamlText), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// mustLoad loads the configuration and fails the test on any error.
func mustLoad(t *testing.T, path string, environ ...string) Config {
	t.Helper()
	cfg, err := LoadConfig(path, environ)
	if err != nil {
		t.Fatalf("LoadConfig(%q, %q): %v", path, environ, err)
	}
	return cfg
}

// configError loads the configuration, requires an ErrConfig and returns its message.
func configError(t *testing.T, path string, environ ...string) string {
	t.Helper()
	cfg, err := LoadConfig(path, environ)
	if err == nil {
		t.Fatalf("LoadConfig(%q, %q) succeeded with %+v; want an error", path, environ, cfg)
	}
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("LoadConfig(%q, %q) = %v; want an error wrapping ErrConfig", path, environ, err)
	}
	return err.Error()
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg := mustLoad(t, "")
	want := Config{
		ServiceName: "usersvc",
		Log:         LogConfig{Level: "info", Format: "json"},
		HTTP: HTTPConfig{
			Addr: ":8080", ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute, RequestTimeout: 10 * time.Second,
			ShutdownGrace: 15 * time.Second, BodyLimitBytes: 1 << 20, MaxHeaderBytes: 65536,
		},
		Database: DatabaseConfig{
			URL:              "postgres://postgres@127.0.0.1:5432/usersvc?sslmode=disable",
			StatementTimeout: 1500 * time.Millisecond, ConnectTimeout: time.Second,
			MaxOpenConns: 8, MaxIdleConns: 8, ConnMaxLifetime: 30 * time.Minute,
			ConnMaxIdleTime: 5 * time.Minute, SlowQueryThreshold: 200 * time.Millisecond,
			Replicas: []string{}, ReplicaMaxStaleness: time.Second, ReplicaWait: 100 * time.Millisecond,
		},
		Migrations: MigrationsConfig{Auto: true, LockTimeout: time.Minute, DDLLockTimeout: 10 * time.Second},
		RateLimit:  RateLimitConfig{Enabled: true, PerToken: 1000, TokenBurst: 2000, PerClient: 20, ClientBurst: 40, Expiry: 3 * time.Minute},
		Resilience: ResilienceConfig{
			OperationTimeout: 2 * time.Second,
			Retry: RetryConfig{
				MaxAttempts: 3, InitialBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, MaxElapsed: 2 * time.Second,
				BudgetTokens: 20, BudgetRatio: 0.1,
			},
			Breaker: BreakerConfig{
				FailureThreshold: 5, Window: 10 * time.Second, OpenTimeout: time.Second, MaxOpenTimeout: 30 * time.Second,
				HalfOpenProbes: 2, HalfOpenSuccesses: 2,
			},
		},
		Idempotency: IdempotencyConfig{TTL: 24 * time.Hour, CleanupInterval: 10 * time.Minute},
		Events: EventsConfig{
			Consume: true, Workers: 4, PollInterval: time.Second, MaxAttempts: 10,
			RetryBackoff: time.Second, RetryBackoffMax: 5 * time.Minute, JobTimeout: 30 * time.Second,
			RescueAfter: time.Minute, ReceiptRetention: 168 * time.Hour,
		},
		Runtime: RuntimeConfig{GCPercent: 400},
	}
	if len(cfg.Auth.Tokens) != 0 || len(cfg.HTTP.TrustedProxies) != 0 {
		t.Errorf("auth.tokens = %q; want none by default", cfg.Auth.Tokens)
	}
	want.Auth.Tokens = cfg.Auth.Tokens                 // nil or empty: both mean none
	want.HTTP.TrustedProxies = cfg.HTTP.TrustedProxies // nil or empty: both mean none
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", cfg, want)
	}
}

// TestDefaultYAMLDocumentsEveryKey: default.yaml is the reference for operators, so each
// Config field must appear in it (ErrorUnused already rejects keys it has beyond Config).
func TestDefaultYAMLDocumentsEveryKey(t *testing.T) {
	k := koanf.New(".")
	if err := k.Load(rawbytes.Provider(configs.Default), yaml.Parser()); err != nil {
		t.Fatal(err)
	}
	documented := k.Keys()
	for _, key := range configKeys(reflect.TypeFor[Config](), "") {
		if !slices.Contains(documented, key) {
			t.Errorf("configs/default.yaml does not document %s", key)
		}
	}
}

// configKeys lists the dotted koanf keys of the leaf fields of struct type t.
func configKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		key := prefix + f.Tag.Get("koanf")
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
			keys = append(keys, configKeys(f.Type, key+".")...)
			continue
		}
		keys = append(keys, key)
	}
	return keys
}

func TestLoadConfigFileOverridesDefaults(t *testing.T) {
	path := writeConfig(t, `
log:
  format: text
http:
  addr: 127.0.0.1:9090
  shutdown_grace: 3s
database:
  max_open_conns: 20
  max_idle_conns: 10
  statement_timeout: 0   # zero needs no unit
auth:
  tokens: [`+tokenA+`]
`)
	cfg := mustLoad(t, path)
	if cfg.Log.Format != "text" || cfg.HTTP.Addr != "127.0.0.1:9090" || cfg.HTTP.ShutdownGrace != 3*time.Second ||
		cfg.Database.MaxOpenConns != 20 || cfg.Database.MaxIdleConns != 10 || cfg.Database.StatementTimeout != 0 {
		t.Errorf("file values not applied: %+v", cfg)
	}
	if !slices.Equal(cfg.Auth.Tokens, []string{tokenA}) {
		t.Errorf("auth.tokens = %q; want %q", cfg.Auth.Tokens, tokenA)
	}
	// Keys the file does not mention keep their defaults.
	if cfg.Log.Level != "info" || cfg.HTTP.RequestTimeout != 10*time.Second || cfg.Database.ConnectTimeout != time.Second {
		t.Errorf("defaults lost under a partial file: %+v", cfg)
	}
	if err := cfg.ValidateServe(); err != nil {
		t.Errorf("ValidateServe with a token from the file: %v", err)
	}
}

func TestLoadConfigEnvOverridesFile(t *testing.T) {
	path := writeConfig(t, `
database:
  max_open_conns: 20
  max_idle_conns: 4
migrations:
  auto: true
`)
	cfg := mustLoad(t, path,
		"USERSVC_DATABASE__MAX_OPEN_CONNS=16",
		"USERSVC_HTTP__SHUTDOWN_GRACE=1m30s",
		"USERSVC_MIGRATIONS__AUTO=false",
		"USERSVC_LOG__LEVEL=debug",
		"USERSVC_AUTH__TOKENS="+tokenA+","+tokenB,
		"USERSVC_CONFIG=/names/the/file/not/a/key.yaml",
		"PATH=/usr/bin", "HOME=/root", "USERSVC=not-a-key-either-without-the-underscore",
	)
	if cfg.Database.MaxOpenConns != 16 {
		t.Errorf("database.max_open_conns = %d; want 16 from USERSVC_DATABASE__MAX_OPEN_CONNS", cfg.Database.MaxOpenConns)
	}
	if cfg.Database.MaxIdleConns != 4 {
		t.Errorf("database.max_idle_conns = %d; want 4 from the file", cfg.Database.MaxIdleConns)
	}
	if cfg.HTTP.ShutdownGrace != 90*time.Second || cfg.Migrations.Auto || cfg.Log.Level != "debug" {
		t.Errorf("environment not applied: %+v", cfg)
	}
	if !slices.Equal(cfg.Auth.Tokens, []string{tokenA, tokenB}) {
		t.Errorf("auth.tokens = %q; want the two comma-separated tokens", cfg.Auth.Tokens)
	}
}

func TestConventionalVariablesWin(t *testing.T) {
	path := writeConfig(t, `
http:
  addr: 127.0.0.1:1111
database:
  url: postgres://file@127.0.0.1:5432/fromfile
auth:
  tokens: ["file:file-token-0123456789"]
`)
	// The winners come first in environ, so the result cannot depend on the order.
	cfg := mustLoad(t, path,
		"DATABASE_URL=postgres://winner@127.0.0.1:5432/winner?sslmode=disable",
		"HTTP_ADDR=127.0.0.1:3333",
		"API_TOKENS= "+tokenA+" ,, "+tokenB+" ,",
		"USERSVC_DATABASE__URL=postgres://env@127.0.0.1:5432/fromenv",
		"USERSVC_HTTP__ADDR=127.0.0.1:2222",
		"USERSVC_AUTH__TOKENS=env:env-token-0123456789",
	)
	if cfg.Database.URL != "postgres://winner@127.0.0.1:5432/winner?sslmode=disable" {
		t.Errorf("database.url = %q; want DATABASE_URL's", cfg.Database.URL)
	}
	if cfg.HTTP.Addr != "127.0.0.1:3333" {
		t.Errorf("http.addr = %q; want HTTP_ADDR's", cfg.HTTP.Addr)
	}
	if !slices.Equal(cfg.Auth.Tokens, []string{tokenA, tokenB}) {
		t.Errorf("auth.tokens = %q; want API_TOKENS split on commas, trimmed, empties dropped", cfg.Auth.Tokens)
	}
}

func TestLoadConfigUnknownKeyNamesIt(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		env        []string
		key        string
	}{
		{name: "file, in a section", yaml: "database:\n  max_open_con: 3\n", key: "max_open_con"},
		{name: "file, top level", yaml: "databse:\n  url: postgres://x@127.0.0.1/x\n", key: "databse"},
		{name: "environment", env: []string{"USERSVC_DATABASE__MAX_OPEN_CON=3"}, key: "max_open_con"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.yaml != "" {
				path = writeConfig(t, tc.yaml)
			}
			if msg := configError(t, path, tc.env...); !strings.Contains(msg, tc.key) {
				t.Errorf("error does not name the unknown key %q: %s", tc.key, msg)
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	if msg := configError(t, missing); !strings.Contains(msg, missing) {
		t.Errorf("error does not name the missing file: %s", msg)
	}
}

func TestLoadConfigBadValueNamesKey(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		env        []string
		key        string
	}{
		{name: "int from env", env: []string{"USERSVC_DATABASE__MAX_OPEN_CONNS=abc"}, key: "database.max_open_conns"},
		{name: "int from file", yaml: "database:\n  max_idle_conns: many\n", key: "database.max_idle_conns"},
		{name: "duration from env", env: []string{"USERSVC_HTTP__SHUTDOWN_GRACE=soon"}, key: "http.shutdown_grace"},
		{name: "duration without unit from env", env: []string{"USERSVC_HTTP__REQUEST_TIMEOUT=10"}, key: "http.request_timeout"},
		// YAML reads a bare 10 as an integer; it must not become 10ns.
		{name: "duration without unit from file", yaml: "http:\n  shutdown_grace: 10\n", key: "http.shutdown_grace"},
		{name: "fractional duration from file", yaml: "database:\n  connect_timeout: 1.5\n", key: "database.connect_timeout"},
		{name: "bool from env", env: []string{"USERSVC_MIGRATIONS__AUTO=maybe"}, key: "migrations.auto"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.yaml != "" {
				path = writeConfig(t, tc.yaml)
			}
			if msg := configError(t, path, tc.env...); !strings.Contains(msg, tc.key) {
				t.Errorf("error does not name %s: %s", tc.key, msg)
			}
		})
	}
}

func TestValidateNamesKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		keys []string
	}{
		{"idle above open", []string{"USERSVC_DATABASE__MAX_OPEN_CONNS=4", "USERSVC_DATABASE__MAX_IDLE_CONNS=5"}, []string{"database.max_idle_conns"}},
		{"negative idle", []string{"USERSVC_DATABASE__MAX_IDLE_CONNS=-1"}, []string{"database.max_idle_conns"}},
		{"no open conns", []string{"USERSVC_DATABASE__MAX_OPEN_CONNS=0", "USERSVC_DATABASE__MAX_IDLE_CONNS=0"}, []string{"database.max_open_conns"}},
		{"write equals request timeout", []string{"USERSVC_HTTP__WRITE_TIMEOUT=10s", "USERSVC_HTTP__REQUEST_TIMEOUT=10s"}, []string{"http.write_timeout"}},
		{"write below request timeout", []string{"USERSVC_HTTP__WRITE_TIMEOUT=5s"}, []string{"http.write_timeout"}},
		{"short token", []string{"API_TOKENS=a:short"}, []string{"auth.tokens[0]", "at least 16 characters"}},
		{"second token short", []string{"API_TOKENS=" + tokenA + ",b:0123456789abcde"}, []string{"auth.tokens[1]"}},
		{"token without a name", []string{"API_TOKENS=token-a-0123456789abcdef"}, []string{"auth.tokens[0]", "must be name:secret"}},
		{"two tokens, one name", []string{"API_TOKENS=" + tokenA + ",a:token-c-0123456789abcdef"}, []string{"auth.tokens[1]", `name "a" is already`}},
		{"two names, one secret", []string{"API_TOKENS=" + tokenA + ",c:token-a-0123456789abcdef"}, []string{"auth.tokens[1]", "secret is already"}},
		{"trusted proxy not a CIDR", []string{"USERSVC_HTTP__TRUSTED_PROXIES=10.0.0.1"}, []string{"http.trusted_proxies[0]"}},
		{"rate limit zero", []string{"USERSVC_RATE_LIMIT__PER_TOKEN=0"}, []string{"rate_limit.per_token", "rate_limit.enabled: false"}},
		{"client burst zero", []string{"USERSVC_RATE_LIMIT__CLIENT_BURST=0"}, []string{"rate_limit.per_client"}},
		{"bad log level", []string{"USERSVC_LOG__LEVEL=loud"}, []string{"log.level"}},
		{"bad log format", []string{"USERSVC_LOG__FORMAT=xml"}, []string{"log.format"}},
		{"addr without port", []string{"HTTP_ADDR=8080"}, []string{"http.addr"}},
		{"zero grace", []string{"USERSVC_HTTP__SHUTDOWN_GRACE=0s"}, []string{"http.shutdown_grace"}},
		{"negative statement timeout", []string{"USERSVC_DATABASE__STATEMENT_TIMEOUT=-1s"}, []string{"database.statement_timeout"}},
		{"zero connect timeout", []string{"USERSVC_DATABASE__CONNECT_TIMEOUT=0s"}, []string{"database.connect_timeout"}},
		{"zero body limit", []string{"USERSVC_HTTP__BODY_LIMIT_BYTES=0"}, []string{"http.body_limit_bytes"}},
		{"short cursor secret", []string{"USERSVC_PAGINATION__CURSOR_SECRET=tooshort"}, []string{"pagination.cursor_secret"}},
		{"tiny header limit", []string{"USERSVC_HTTP__MAX_HEADER_BYTES=100"}, []string{"http.max_header_bytes"}},
		{"gc percent zero", []string{"USERSVC_RUNTIME__GC_PERCENT=0"}, []string{"runtime.gc_percent"}},
		{"pprof without a metrics listener", []string{"USERSVC_METRICS__PPROF=true"}, []string{"metrics.pprof"}},
		{"empty service name", []string{"USERSVC_SERVICE_NAME="}, []string{"service_name"}},
		{"unknown pooler", []string{"USERSVC_DATABASE__POOLER=statement"}, []string{"database.pooler"}},
		{"transaction pooler, migrations through it", []string{"USERSVC_DATABASE__POOLER=transaction"},
			[]string{"migrations.url", "must name PostgreSQL directly"}},
		{"bad replica url", []string{"USERSVC_DATABASE__REPLICAS=postgres://h:notaport/db"}, []string{"database.replicas[0]"}},
		{"replica staleness zero", []string{"USERSVC_DATABASE__REPLICAS=postgres://h/db", "USERSVC_DATABASE__REPLICA_MAX_STALENESS=0s"},
			[]string{"database.replica_max_staleness"}},
		{"bad migrations url", []string{"USERSVC_MIGRATIONS__URL=postgres://h:notaport/db"}, []string{"migrations.url"}},
		{"every problem at once", []string{"USERSVC_LOG__LEVEL=loud", "USERSVC_DATABASE__MAX_IDLE_CONNS=9", "API_TOKENS=short"},
			[]string{"log.level", "database.max_idle_conns", "auth.tokens[0]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := configError(t, "", tc.env...)
			for _, key := range tc.keys {
				if !strings.Contains(msg, key) {
					t.Errorf("error does not name %s: %s", key, msg)
				}
			}
		})
	}
}

func TestInvalidDatabaseURLDoesNotEchoPassword(t *testing.T) {
	msg := configError(t, "", "DATABASE_URL=postgres://u:secretpw@127.0.0.1:notaport/x")
	if !strings.Contains(msg, "database.url") {
		t.Errorf("error does not name database.url: %s", msg)
	}
	if strings.Contains(msg, "secretpw") {
		t.Errorf("error leaks the password: %s", msg)
	}
}

func TestValidateServe(t *testing.T) {
	t.Run("no token", func(t *testing.T) {
		cfg := mustLoad(t, "")
		err := cfg.ValidateServe()
		if !errors.Is(err, ErrConfig) {
			t.Fatalf("ValidateServe without tokens = %v; want an ErrConfig", err)
		}
		if !strings.Contains(err.Error(), "auth.tokens") {
			t.Errorf("error does not name auth.tokens: %v", err)
		}
	})
	t.Run("token", func(t *testing.T) {
		cfg := mustLoad(t, "", "API_TOKENS="+tokenA)
		if err := cfg.ValidateServe(); err != nil {
			t.Errorf("ValidateServe with a token: %v", err)
		}
	})
	t.Run("auth disabled", func(t *testing.T) {
		cfg := mustLoad(t, "", "USERSVC_AUTH__DISABLED=true")
		if err := cfg.ValidateServe(); err != nil {
			t.Errorf("ValidateServe with auth.disabled and no token: %v", err)
		}
	})
	t.Run("empty API_TOKENS", func(t *testing.T) {
		cfg := mustLoad(t, "", "API_TOKENS= , ")
		if err := cfg.ValidateServe(); !errors.Is(err, ErrConfig) {
			t.Errorf("ValidateServe with only blank tokens = %v; want an ErrConfig", err)
		}
	})
}
