package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/jackc/pgx/v5"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/v2"

	"usersvc/configs"
	"usersvc/platform/web"
)

// Config is the whole service configuration; configs/default.yaml documents every key.
type Config struct {
	ServiceName string            `koanf:"service_name"`
	Log         LogConfig         `koanf:"log"`
	HTTP        HTTPConfig        `koanf:"http"`
	Database    DatabaseConfig    `koanf:"database"`
	Migrations  MigrationsConfig  `koanf:"migrations"`
	Auth        AuthConfig        `koanf:"auth"`
	RateLimit   RateLimitConfig   `koanf:"rate_limit"`
	Pagination  PaginationConfig  `koanf:"pagination"`
	Resilience  ResilienceConfig  `koanf:"resilience"`
	Metrics     MetricsConfig     `koanf:"metrics"`
	Idempotency IdempotencyConfig `koanf:"idempotency"`
	Events      EventsConfig      `koanf:"events"`
	Runtime     RuntimeConfig     `koanf:"runtime"`
}

// EventsConfig configures the delivery of module events.
type EventsConfig struct {
	Consume          bool          `koanf:"consume"`
	Workers          int           `koanf:"workers"`
	PollInterval     time.Duration `koanf:"poll_interval"`
	MaxAttempts      int           `koanf:"max_attempts"`
	RetryBackoff     time.Duration `koanf:"retry_backoff"`
	RetryBackoffMax  time.Duration `koanf:"retry_backoff_max"`
	JobTimeout       time.Duration `koanf:"job_timeout"`
	RescueAfter      time.Duration `koanf:"rescue_after"`
	ReceiptRetention time.Duration `koanf:"receipt_retention"`
}

// IdempotencyConfig configures Idempotency-Key handling.
type IdempotencyConfig struct {
	TTL             time.Duration `koanf:"ttl"`
	CleanupInterval time.Duration `koanf:"cleanup_interval"`
}

// MetricsConfig configures where Prometheus metrics are served.
type MetricsConfig struct {
	Addr string `koanf:"addr"` // "": at /metrics on the main listener
	// Pprof also serves Go's profiler (/debug/pprof/) on Addr, which must then be set: the
	// profiler stays off the API listener.
	Pprof bool `koanf:"pprof"`
}

// ResilienceConfig configures how database failures are ridden out.
type ResilienceConfig struct {
	OperationTimeout time.Duration `koanf:"operation_timeout"`
	Retry            RetryConfig   `koanf:"retry"`
	Breaker          BreakerConfig `koanf:"breaker"`
}

// BreakerConfig configures the database circuit breaker.
type BreakerConfig struct {
	FailureThreshold  int64         `koanf:"failure_threshold"`
	Window            time.Duration `koanf:"window"`
	OpenTimeout       time.Duration `koanf:"open_timeout"`
	MaxOpenTimeout    time.Duration `koanf:"max_open_timeout"`
	HalfOpenProbes    int           `koanf:"half_open_probes"`
	HalfOpenSuccesses int64         `koanf:"half_open_successes"`
}

// RetryConfig configures retrying a transaction that collided with another.
type RetryConfig struct {
	MaxAttempts    int           `koanf:"max_attempts"`
	InitialBackoff time.Duration `koanf:"initial_backoff"`
	MaxBackoff     time.Duration `koanf:"max_backoff"`
	MaxElapsed     time.Duration `koanf:"max_elapsed"`
	BudgetTokens   float64       `koanf:"budget_tokens"`
	BudgetRatio    float64       `koanf:"budget_ratio"`
}

// LogConfig configures slog.
type LogConfig struct {
	Level  string `koanf:"level"`
	Format string `koanf:"format"`
}

// HTTPConfig configures the listener and request handling.
type HTTPConfig struct {
	Addr              string        `koanf:"addr"`
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout"`
	ReadTimeout       time.Duration `koanf:"read_timeout"`
	WriteTimeout      time.Duration `koanf:"write_timeout"`
	IdleTimeout       time.Duration `koanf:"idle_timeout"`
	RequestTimeout    time.Duration `koanf:"request_timeout"`
	ShutdownGrace     time.Duration `koanf:"shutdown_grace"`
	BodyLimitBytes    int64         `koanf:"body_limit_bytes"`
	MaxHeaderBytes    int           `koanf:"max_header_bytes"`
	// TrustedProxies are the CIDRs of the proxies whose X-Forwarded-For is believed; with
	// none, the client IP is the connection's peer and X-Forwarded-For is ignored.
	TrustedProxies []string `koanf:"trusted_proxies"`
}

// DatabaseConfig configures the connection pool.
type DatabaseConfig struct {
	URL                string        `koanf:"url"`
	ApplicationName    string        `koanf:"application_name"`
	StatementTimeout   time.Duration `koanf:"statement_timeout"`
	ConnectTimeout     time.Duration `koanf:"connect_timeout"`
	MaxOpenConns       int           `koanf:"max_open_conns"`
	MaxIdleConns       int           `koanf:"max_idle_conns"`
	ConnMaxLifetime    time.Duration `koanf:"conn_max_lifetime"`
	ConnMaxIdleTime    time.Duration `koanf:"conn_max_idle_time"`
	SlowQueryThreshold time.Duration `koanf:"slow_query_threshold"`
	// Pooler is "transaction" when URL reaches PostgreSQL through a pooler in transaction
	// mode (PgBouncer pool_mode=transaction); empty: a direct connection or session pooling.
	Pooler string `koanf:"pooler"`
	// Replicas are URLs of streaming replicas that serve reads (empty: all on url).
	Replicas            []string      `koanf:"replicas"`
	ReplicaMaxStaleness time.Duration `koanf:"replica_max_staleness"`
	ReplicaWait         time.Duration `koanf:"replica_wait"`
}

// PoolerTransaction is the database.pooler value of a transaction-mode pooler.
const PoolerTransaction = "transaction"

// MigrationsConfig configures schema migration.
type MigrationsConfig struct {
	// URL is where migrations run, straight to the primary; empty: database.url.
	URL              string        `koanf:"url"`
	Auto             bool          `koanf:"auto"`
	LockTimeout      time.Duration `koanf:"lock_timeout"`
	StatementTimeout time.Duration `koanf:"statement_timeout"`
	DDLLockTimeout   time.Duration `koanf:"ddl_lock_timeout"`
}

// AuthConfig configures bearer-token authentication of /api routes.
type AuthConfig struct {
	Tokens   []string `koanf:"tokens"` // "name:secret" each
	Disabled bool     `koanf:"disabled"`
}

// RateLimitConfig configures the per-instance token buckets of /api requests.
type RateLimitConfig struct {
	Enabled     bool          `koanf:"enabled"`
	PerToken    float64       `koanf:"per_token"`
	TokenBurst  int           `koanf:"token_burst"`
	PerClient   float64       `koanf:"per_client"`
	ClientBurst int           `koanf:"client_burst"`
	Expiry      time.Duration `koanf:"expiry"`
}

// Named returns the tokens as names and secrets; validate has refused malformed entries.
func (a AuthConfig) Named() []web.Token {
	out := make([]web.Token, 0, len(a.Tokens))
	for _, entry := range a.Tokens {
		if t, err := web.ParseToken(entry); err == nil {
			out = append(out, t)
		}
	}
	return out
}

// PaginationConfig configures page cursors.
type PaginationConfig struct {
	CursorSecret string `koanf:"cursor_secret"`
}

// ErrConfig marks configuration errors; the binary exits 2 on them.
var ErrConfig = errors.New("config")

// envPrefix starts the environment variables that override config keys.
const envPrefix = "USERSVC_"

// LoadConfig layers the built-in defaults, the optional file, USERSVC_* variables and the
// always-winning DATABASE_URL, HTTP_ADDR and API_TOKENS, then validates the result. environ
// is the process environment (os.Environ in production, a fixed list in tests).
func LoadConfig(path string, environ []string) (Config, error) {
	k := koanf.New(".")
	if err := k.Load(rawbytes.Provider(configs.Default), yaml.Parser()); err != nil {
		return Config{}, fmt.Errorf("%w: built-in defaults: %w", ErrConfig, err)
	}
	if path != "" {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return Config{}, fmt.Errorf("%w: file %s: %w", ErrConfig, path, err)
		}
	}
	environFunc := func() []string { return environ }
	err := k.Load(env.Provider(".", env.Opt{Prefix: envPrefix, EnvironFunc: environFunc,
		TransformFunc: func(key, value string) (string, any) {
			key = strings.ToLower(strings.TrimPrefix(key, envPrefix))
			if key == "config" {
				return "", nil // names the file, not a key
			}
			return strings.ReplaceAll(key, "__", "."), value
		}}), nil)
	if err != nil {
		return Config{}, fmt.Errorf("%w: environment: %w", ErrConfig, err)
	}
	if err := k.Load(confmap.Provider(winningEnv(environ), "."), nil); err != nil {
		return Config{}, fmt.Errorf("%w: environment: %w", ErrConfig, err)
	}
	var cfg Config
	err = k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{DecoderConfig: &mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			durationNeedsUnit,
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(",")),
		ErrorUnused:      true, // a misspelt key is an error, not a silently ignored setting
		WeaklyTypedInput: true, // environment values are strings
		Result:           &cfg,
		TagName:          "koanf",
	}})
	if err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	cfg.Auth.Tokens = cleanTokens(cfg.Auth.Tokens)
	if err := cfg.validate(); err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return cfg, nil
}

// durationNeedsUnit rejects a bare number for a duration key: YAML reads `shutdown_grace: 10`
// as an integer, which would otherwise decode silently as 10 nanoseconds. Zero stays allowed.
func durationNeedsUnit(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeFor[time.Duration]() || from.Kind() == reflect.String {
		return data, nil
	}
	if v := reflect.ValueOf(data); v.IsValid() && v.IsZero() {
		return data, nil
	}
	return nil, fmt.Errorf("must be a duration with a unit, like 5s or 500ms, got %v", data)
}

// winningEnv returns the conventional variables that override every other layer.
func winningEnv(environ []string) map[string]any {
	out := map[string]any{}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		switch name {
		case "DATABASE_URL":
			out["database.url"] = value
		case "HTTP_ADDR":
			out["http.addr"] = value
		case "API_TOKENS":
			out["auth.tokens"] = strings.Split(value, ",")
		}
	}
	return out
}

// cleanTokens trims tokens and drops empty ones, whichever layer they came from.
func cleanTokens(tokens []string) []string {
	out := make([]string, 0, len(tokens))
	for _, t := range tokens {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// validate checks what the types alone cannot; each message names the key.
func (c *Config) validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if c.ServiceName == "" {
		bad("service_name", "must not be empty")
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		bad("log.format", "must be json or text, got %q", c.Log.Format)
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
		bad("http.addr", "must be host:port or :port, got %q", c.HTTP.Addr)
	}
	if _, _, err := net.SplitHostPort(c.Metrics.Addr); c.Metrics.Addr != "" && err != nil {
		bad("metrics.addr", "must be empty, host:port or :port, got %q", c.Metrics.Addr)
	}
	if c.HTTP.MaxHeaderBytes < 4096 {
		bad("http.max_header_bytes", "must be at least 4096, got %d", c.HTTP.MaxHeaderBytes)
	}
	if c.Runtime.GCPercent < 1 {
		bad("runtime.gc_percent", "must be at least 1 (set GOGC=off in the environment to turn the collector off), got %d", c.Runtime.GCPercent)
	}
	if c.Runtime.MemoryLimitBytes < 0 {
		bad("runtime.memory_limit_bytes", "must be 0 (no limit) or more, got %d", c.Runtime.MemoryLimitBytes)
	}
	if c.Metrics.Pprof && c.Metrics.Addr == "" {
		bad("metrics.pprof", "needs metrics.addr: the profiler is served only on the metrics listener")
	}
	for _, d := range []struct {
		key string
		val time.Duration
		min time.Duration // 0: may be zero; 1: must be positive
	}{
		{"http.read_header_timeout", c.HTTP.ReadHeaderTimeout, 1}, {"http.read_timeout", c.HTTP.ReadTimeout, 1},
		{"http.write_timeout", c.HTTP.WriteTimeout, 1}, {"http.idle_timeout", c.HTTP.IdleTimeout, 1},
		{"http.request_timeout", c.HTTP.RequestTimeout, 1}, {"http.shutdown_grace", c.HTTP.ShutdownGrace, 1},
		{"database.statement_timeout", c.Database.StatementTimeout, 0},
		{"database.connect_timeout", c.Database.ConnectTimeout, 1},
		{"database.conn_max_lifetime", c.Database.ConnMaxLifetime, 0},
		{"database.conn_max_idle_time", c.Database.ConnMaxIdleTime, 0},
		{"database.slow_query_threshold", c.Database.SlowQueryThreshold, 0},
		{"migrations.lock_timeout", c.Migrations.LockTimeout, 1},
		{"migrations.statement_timeout", c.Migrations.StatementTimeout, 0},
		{"migrations.ddl_lock_timeout", c.Migrations.DDLLockTimeout, 0},
		{"resilience.operation_timeout", c.Resilience.OperationTimeout, 1},
		{"idempotency.ttl", c.Idempotency.TTL, 1},
		{"idempotency.cleanup_interval", c.Idempotency.CleanupInterval, 1},
		{"resilience.breaker.window", c.Resilience.Breaker.Window, 1},
		{"resilience.breaker.open_timeout", c.Resilience.Breaker.OpenTimeout, 1},
		{"resilience.breaker.max_open_timeout", c.Resilience.Breaker.MaxOpenTimeout, 0},
		{"resilience.retry.initial_backoff", c.Resilience.Retry.InitialBackoff, 1},
		{"resilience.retry.max_backoff", c.Resilience.Retry.MaxBackoff, 1},
		{"resilience.retry.max_elapsed", c.Resilience.Retry.MaxElapsed, 1},
		{"events.poll_interval", c.Events.PollInterval, time.Millisecond},
		{"events.retry_backoff", c.Events.RetryBackoff, 1},
		{"events.retry_backoff_max", c.Events.RetryBackoffMax, 1},
		{"events.job_timeout", c.Events.JobTimeout, time.Second},
		{"events.rescue_after", c.Events.RescueAfter, 1},
		{"events.receipt_retention", c.Events.ReceiptRetention, time.Hour},
	} {
		if d.val < d.min {
			bad(d.key, "must be a duration of at least %s, got %s", d.min, d.val)
		}
	}
	if c.Events.RescueAfter < c.Events.JobTimeout {
		bad("events.rescue_after", "must be at least events.job_timeout (%s), got %s", c.Events.JobTimeout, c.Events.RescueAfter)
	}
	if c.HTTP.WriteTimeout <= c.HTTP.RequestTimeout {
		bad("http.write_timeout", "must exceed http.request_timeout (%s), got %s", c.HTTP.RequestTimeout, c.HTTP.WriteTimeout)
	}
	for _, n := range []struct {
		key string
		val int64
	}{
		{"resilience.breaker.failure_threshold", c.Resilience.Breaker.FailureThreshold},
		{"resilience.breaker.half_open_probes", int64(c.Resilience.Breaker.HalfOpenProbes)},
		{"resilience.breaker.half_open_successes", c.Resilience.Breaker.HalfOpenSuccesses},
		{"events.workers", int64(c.Events.Workers)},
		{"events.max_attempts", int64(c.Events.MaxAttempts)},
	} {
		if n.val < 1 {
			bad(n.key, "must be at least 1, got %d", n.val)
		}
	}
	if b := c.Resilience.Retry; b.BudgetTokens < 1 || b.BudgetRatio <= 0 || b.BudgetRatio > b.BudgetTokens {
		bad("resilience.retry.budget_tokens", "and budget_ratio must satisfy tokens ≥ 1 and 0 < ratio ≤ tokens, got %g and %g", b.BudgetTokens, b.BudgetRatio)
	}
	if c.Resilience.Retry.MaxAttempts < 1 {
		bad("resilience.retry.max_attempts", "must be at least 1 (1 disables retrying), got %d", c.Resilience.Retry.MaxAttempts)
	}
	if c.HTTP.BodyLimitBytes < 1 {
		bad("http.body_limit_bytes", "must be positive, got %d", c.HTTP.BodyLimitBytes)
	}
	if _, err := pgx.ParseConfig(c.Database.URL); err != nil {
		bad("database.url", "is not a valid PostgreSQL connection URL") // the error would echo a password
	}
	for i, u := range c.Database.Replicas {
		if _, err := pgx.ParseConfig(u); err != nil {
			bad(fmt.Sprintf("database.replicas[%d]", i), "is not a valid PostgreSQL connection URL")
		}
	}
	if len(c.Database.Replicas) > 0 && c.Database.ReplicaMaxStaleness < 10*time.Millisecond {
		bad("database.replica_max_staleness", "must be at least 10ms, got %s", c.Database.ReplicaMaxStaleness)
	}
	if c.Database.ReplicaWait < 0 {
		bad("database.replica_wait", "must be 0 or more, got %s", c.Database.ReplicaWait)
	}
	if u := c.Migrations.URL; u != "" {
		if _, err := pgx.ParseConfig(u); err != nil {
			bad("migrations.url", "is not a valid PostgreSQL connection URL")
		}
	}
	switch c.Database.Pooler {
	case "":
	case PoolerTransaction:
		if c.Migrations.URL == "" {
			bad("migrations.url", "must name PostgreSQL directly when database.pooler is %q: the migration "+
				"lock is held by a session, which transaction pooling would hand to other clients", PoolerTransaction)
		}
	default:
		bad("database.pooler", "must be empty (a direct connection) or %q, got %q", PoolerTransaction, c.Database.Pooler)
	}
	if c.Database.MaxOpenConns < 1 {
		bad("database.max_open_conns", "must be at least 1, got %d", c.Database.MaxOpenConns)
	}
	if c.Database.MaxIdleConns < 0 || c.Database.MaxIdleConns > c.Database.MaxOpenConns {
		bad("database.max_idle_conns", "must be from 0 to database.max_open_conns (%d), got %d", c.Database.MaxOpenConns, c.Database.MaxIdleConns)
	}
	names, secrets := map[string]int{}, map[string]int{}
	for i, entry := range c.Auth.Tokens {
		key := fmt.Sprintf("auth.tokens[%d]", i)
		t, err := web.ParseToken(entry)
		if err != nil {
			bad(key, "%v", err)
			continue
		}
		if j, ok := names[t.Name]; ok {
			bad(key, "name %q is already the name of auth.tokens[%d]: each token acts as its own name", t.Name, j)
		}
		if j, ok := secrets[t.Secret]; ok {
			bad(key, "secret is already the secret of auth.tokens[%d]: which name would act?", j)
		}
		names[t.Name], secrets[t.Secret] = i, i
	}
	for i, cidr := range c.HTTP.TrustedProxies {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			bad(fmt.Sprintf("http.trusted_proxies[%d]", i), "must be a CIDR such as 10.0.0.0/8 or 192.0.2.7/32, got %q", cidr)
		}
	}
	if r := c.RateLimit; r.Enabled {
		if r.PerToken <= 0 || r.TokenBurst < 1 {
			bad("rate_limit.per_token", "and token_burst must be positive, got %g and %d (set rate_limit.enabled: false to turn limiting off)", r.PerToken, r.TokenBurst)
		}
		if r.PerClient <= 0 || r.ClientBurst < 1 {
			bad("rate_limit.per_client", "and client_burst must be positive, got %g and %d (set rate_limit.enabled: false to turn limiting off)", r.PerClient, r.ClientBurst)
		}
		if r.Expiry <= 0 {
			bad("rate_limit.expiry", "must be positive, got %s", r.Expiry)
		}
	}
	if s := c.Pagination.CursorSecret; s != "" && len(s) < 16 {
		bad("pagination.cursor_secret", "must be empty or at least 16 characters")
	}
	return errors.Join(errs...)
}

// ValidateServe checks what only serving needs: refuse to serve an open API by accident.
func (c *Config) ValidateServe() error {
	if !c.Auth.Disabled && len(c.Auth.Tokens) == 0 {
		return fmt.Errorf("%w: auth.tokens: no API token configured: set API_TOKENS, or auth.disabled: true to serve without authentication", ErrConfig)
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	return l, err
}
