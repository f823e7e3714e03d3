// Package app is the composition root: it builds the configuration, the database pool, the
// modules and the HTTP server, and is the only package that knows every module.
package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"usersvc/migrations"
	"usersvc/platform/db"
	"usersvc/platform/events"
	"usersvc/platform/idempotency"
	"usersvc/platform/resilience"
	"usersvc/platform/web"
)

// App is the wired service.
type App struct {
	cfg Config
	log *slog.Logger
	db  *gorm.DB
	// migrationsDB is where migrations run: db, or a small pool of its own straight to the
	// primary (migrations.url) when db goes through a transaction-mode pooler.
	migrationsDB *gorm.DB
	// replicas serve GET requests' reads when database.replicas is set; nil otherwise.
	replicas      *db.Replicas
	closeReplicas func() error // stops their sampling and closes their pools
	modules       []Module
	migrator      *migrations.Runner
	breaker       *resilience.Breaker
	telemetry     *telemetry
	idempotency   *idempotency.Store
	events        *events.Bus
	echo          *echo.Echo
	handler       http.Handler // echo, with HEAD served wherever GET is
	apiDoc        []byte       // the OpenAPI document, served at /api/v1/openapi.json
}

// New opens the database and wires the modules and routes. The layers, outermost first:
//
//	HTTP: request id → access log → metrics → recover → body limit → request deadline
//	      → auth (/api) → [idempotency key, on write routes that take one] → module handler
//	data: module repository → db.Runner (transactions, retried on contention and lost
//	      connections; maps unavailability to 503) → GORM → database/sql pool (pings the
//	      connections idle since a loss before reuse) → pgx
//
// Close releases what New opened.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	return NewWith(ctx, cfg, log, Modules)
}

// NewWith is New with the modules modules builds instead of the app's list: a test can serve
// one module with stubs of the contracts it uses.
func NewWith(ctx context.Context, cfg Config, log *slog.Logger, modules func(Deps) []Module) (*App, error) {
	tel := newTelemetry()
	dbCfg := dbConfig(cfg)
	dbCfg.OnConnectionLost = tel.connectionsLost.Inc
	gdb, err := db.Open(ctx, dbCfg, log)
	if err != nil {
		return nil, err
	}
	migDB := gdb
	if cfg.Migrations.URL != "" {
		if migDB, err = db.Open(ctx, migrationsDBConfig(cfg), log); err != nil {
			_ = db.Close(gdb)
			return nil, fmt.Errorf("app: migrations.url: %w", err)
		}
	}
	a, err := wire(cfg, log, gdb, migDB, tel, modules)
	if err != nil {
		_ = db.Close(gdb)
		if migDB != gdb {
			_ = db.Close(migDB)
		}
		return nil, err
	}
	return a, nil
}

func wire(cfg Config, log *slog.Logger, gdb, migDB *gorm.DB, tel *telemetry, modules func(Deps) []Module) (_ *App, err error) {
	cursors, err := newCursors(cfg.Pagination.CursorSecret)
	if err != nil {
		return nil, err
	}
	breaker, err := newBreaker(cfg.Resilience.Breaker, log, tel)
	if err != nil {
		return nil, err
	}
	if err := tel.watch(gdb, breaker); err != nil {
		return nil, err
	}
	r := cfg.Resilience.Retry
	runnerCfg := db.RunnerConfig{
		Retry: resilience.RetryPolicy{
			MaxAttempts: r.MaxAttempts, InitialBackoff: r.InitialBackoff, MaxBackoff: r.MaxBackoff, MaxElapsed: r.MaxElapsed,
		},
		RetryBudget: resilience.NewRetryBudget(r.BudgetTokens, r.BudgetRatio),
		Breaker:     breaker,
		Budget:      cfg.Resilience.OperationTimeout,
		Logger:      log,
		Metrics:     db.NewMetrics(tel.registry, metricsNamespace),
	}
	if cfg.Database.Pooler == PoolerTransaction {
		runnerCfg.TxStatementTimeout = cfg.Database.StatementTimeout
	}
	replicas, closeReplicas, err := openReplicas(cfg, log, gdb, tel)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = closeReplicas()
		}
	}()
	runnerCfg.Replicas = replicas
	runner := db.NewRunner(gdb, runnerCfg)
	idem := idempotency.NewStore(runner, cfg.Idempotency.TTL, log)
	bus, err := newBus(cfg, log, gdb, runner, idem)
	if err != nil {
		return nil, err
	}
	tel.registry.MustRegister(bus.Collector(metricsNamespace))
	mods := modules(Deps{DB: runner, Cursors: cursors, Idempotent: idem.Middleware(), Events: bus})
	if err := bus.Subscribe(Subscriptions(mods)...); err != nil {
		return nil, err
	}
	plan, err := Plan(mods)
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, db: gdb, modules: mods, replicas: replicas, closeReplicas: closeReplicas, breaker: breaker, telemetry: tel, idempotency: idem, events: bus,
		migrationsDB: migDB,
		migrator: migrations.NewRunner(migDB, plan, migrations.Options{
			LockTimeout:      cfg.Migrations.LockTimeout,
			StatementTimeout: cfg.Migrations.StatementTimeout,
			DDLLockTimeout:   cfg.Migrations.DDLLockTimeout,
			Logger:           log,
		})}
	doc, err := OpenAPI(mods, cfg)
	if err == nil {
		a.apiDoc, err = doc.MarshalJSON()
	}
	if err != nil {
		// The fragments are compiled in: two modules defining one path or schema, or an
		// invalid fragment, is a programming error the app refuses to start with.
		return nil, fmt.Errorf("app: the OpenAPI document: %w", err)
	}
	a.echo = a.routes()
	a.handler = web.HeadAsGet(a.echo)
	return a, nil
}

func dbConfig(cfg Config) db.Config {
	name := cfg.Database.ApplicationName
	if name == "" {
		name = cfg.ServiceName
	}
	return db.Config{
		URL: cfg.Database.URL, ApplicationName: name, StatementTimeout: cfg.Database.StatementTimeout,
		MaxOpenConns: cfg.Database.MaxOpenConns, MaxIdleConns: cfg.Database.MaxIdleConns,
		ConnMaxLifetime: cfg.Database.ConnMaxLifetime, ConnMaxIdleTime: cfg.Database.ConnMaxIdleTime,
		ConnectTimeout: cfg.Database.ConnectTimeout, SlowQueryThreshold: cfg.Database.SlowQueryThreshold,
		TransactionPooling: cfg.Database.Pooler == PoolerTransaction,
	}
}

// migrationsDBConfig is a small pool to migrations.url: migrations run one at a time, and
// its connections close soon after (readiness reads the migration state through it too).
func migrationsDBConfig(cfg Config) db.Config {
	c := dbConfig(cfg)
	c.URL, c.TransactionPooling = cfg.Migrations.URL, false
	c.MaxOpenConns, c.MaxIdleConns, c.ConnMaxIdleTime = 2, 1, time.Minute
	return c
}

// newBus builds the event bus over the app's pool; its periodic jobs run on River's elected
// leader among the instances that consume.
func newBus(cfg Config, log *slog.Logger, gdb *gorm.DB, runner *db.Runner, idem *idempotency.Store) (*events.Bus, error) {
	sqlDB, err := gdb.DB()
	if err != nil {
		return nil, err
	}
	e := cfg.Events
	return events.New(sqlDB, runner, events.Config{
		Consume: e.Consume, Workers: e.Workers, PollInterval: e.PollInterval, MaxAttempts: e.MaxAttempts,
		RetryBackoff: e.RetryBackoff, RetryBackoffMax: e.RetryBackoffMax, JobTimeout: e.JobTimeout,
		RescueAfter: e.RescueAfter, ReceiptRetention: e.ReceiptRetention, Logger: log,
		Periodic: []events.Periodic{{Name: "idempotency_keys_cleanup", Interval: cfg.Idempotency.CleanupInterval,
			Run: func(ctx context.Context) error {
				n, err := idem.Cleanup(ctx)
				if n > 0 {
					log.Info("expired idempotency keys deleted", "count", n)
				}
				return err
			}}},
	})
}

// newBreaker builds the database circuit breaker; every state change is logged once and
// counted.
func newBreaker(c BreakerConfig, log *slog.Logger, tel *telemetry) (*resilience.Breaker, error) {
	return resilience.NewBreaker(resilience.BreakerConfig{
		FailureThreshold: c.FailureThreshold, Window: c.Window,
		OpenTimeout: c.OpenTimeout, MaxOpenTimeout: c.MaxOpenTimeout,
		HalfOpenProbes: c.HalfOpenProbes, HalfOpenSuccesses: c.HalfOpenSuccesses,
		OnStateChange: func(from, to resilience.State, requestID string) {
			log.Warn("database circuit breaker changed state", "from", string(from), "to", string(to), "request_id", requestID)
			tel.breakerTransitions.WithLabelValues(string(from), string(to)).Inc()
		},
	})
}

// newCursors signs with secret, or with a random key when it is empty (Serve warns then).
func newCursors(secret string) (*db.Cursors, error) {
	key := []byte(secret)
	if secret == "" {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("app: cursor key: %w", err)
		}
	}
	return db.NewCursors(key)
}

// routes builds the Echo app: health routes open, everything else under /api/v1 with auth.
func (a *App) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = web.ErrorHandler(a.log)
	e.IPExtractor = clientIP(a.cfg.HTTP.TrustedProxies)
	e.Use(web.Stack(a.log, web.Metrics(a.telemetry.registry, metricsNamespace),
		strconv.FormatInt(a.cfg.HTTP.BodyLimitBytes, 10), a.cfg.HTTP.RequestTimeout)...)
	auth := web.NewAuthenticator(a.cfg.Auth.Named())
	if r := a.cfg.RateLimit; r.Enabled {
		identify := auth.Identify
		if a.cfg.Auth.Disabled {
			identify = nil // every client is anonymous: limited by address
		}
		e.Use(web.RateLimit(a.telemetry.registry, metricsNamespace, "/api/", web.RateLimits{
			PerToken: r.PerToken, TokenBurst: r.TokenBurst, PerClient: r.PerClient, ClientBurst: r.ClientBurst, Expiry: r.Expiry,
		}, identify))
	}
	if a.cfg.Auth.Disabled {
		e.Use(web.Anonymous("/api/"))
	} else {
		e.Use(auth.Middleware("/api/", []string{"/api/v1/openapi.json"})) // the API's description is public
	}
	e.Match([]string{http.MethodGet, http.MethodHead}, "/healthz", a.healthz)
	e.Match([]string{http.MethodGet, http.MethodHead}, "/readyz", a.readyz)
	if a.cfg.Metrics.Addr == "" {
		e.GET("/metrics", echo.WrapHandler(a.telemetry.handler()))
	}
	api := e.Group("/api/v1")
	if a.replicas != nil {
		api.Use(consistency)
	}
	for _, m := range a.modules {
		m.Routes(api)
	}
	a.serveOpenAPI(e)
	return e
}

// clientIP is how the client's address is found: the TCP peer, or, behind the trusted
// proxies, the first address in X-Forwarded-For that is not one of them. Echo's default
// believes X-Forwarded-For from anyone, so any client could choose the address logged and
// rate limited.
func clientIP(trusted []string) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, cidr := range trusted {
		_, ipNet, _ := net.ParseCIDR(cidr) // validated with the configuration
		opts = append(opts, echo.TrustIPRange(ipNet))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// Handler is the HTTP handler of the service.
func (a *App) Handler() http.Handler { return a.handler }

// Migrator applies and lists the schema migrations of every module.
func (a *App) Migrator() *migrations.Runner { return a.migrator }

// Modules returns the registered modules.
func (a *App) Modules() []Module { return a.modules }

// Idempotency returns the idempotency-key store (for tests and tools).
func (a *App) Idempotency() *idempotency.Store { return a.idempotency }

// DB returns the GORM handle (for tests and tools).
func (a *App) DB() *gorm.DB { return a.db }

// Events is the event bus (for the CLI and tests).
func (a *App) Events() *events.Bus { return a.events }

// Close stops event delivery (waiting for deliveries in flight), the breaker's listener,
// and closes the database pool.
func (a *App) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.HTTP.ShutdownGrace)
	defer cancel()
	err := a.events.Stop(ctx)
	a.breaker.Close()
	err = errors.Join(err, a.closeReplicas(), db.Close(a.db))
	if a.migrationsDB != a.db {
		err = errors.Join(err, db.Close(a.migrationsDB))
	}
	return err
}
