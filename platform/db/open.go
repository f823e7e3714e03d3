// Package db opens PostgreSQL through GORM and pgx and holds the database helpers every module
// shares: pool settings, soft-delete scopes, keyset pagination and the transaction runner.
package db

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

// Config is what Open needs; app/ fills it from the service configuration.
type Config struct {
	URL                string
	ApplicationName    string        // shown in pg_stat_activity, so the server can attribute work
	StatementTimeout   time.Duration // server-side bound on every statement; 0 disables it
	MaxOpenConns       int
	MaxIdleConns       int
	ConnMaxLifetime    time.Duration
	ConnMaxIdleTime    time.Duration
	ConnectTimeout     time.Duration // bound on the startup ping
	SlowQueryThreshold time.Duration // queries slower than this are logged at warn
	// TransactionPooling: URL reaches PostgreSQL through a pooler in transaction mode
	// (PgBouncer), where consecutive transactions of one client connection run on different
	// server connections. Statements are then sent without named prepared statements, and
	// StatementTimeout is left to the Runner (SET LOCAL in each transaction): a startup
	// parameter would be refused by PgBouncer, and a session SET would leak to other clients.
	TransactionPooling bool
	// NoStartupPing opens without connecting: a replica may be down when the service starts
	// and is used once it answers.
	NoStartupPing bool
	// OnConnectionLost, when set, is told each time an established connection is found
	// broken (by a statement or by the ping before reuse): for metrics.
	OnConnectionLost func()
}

// Open connects, applies the pool settings and pings within cfg.ConnectTimeout. The error
// names host, port and database so an operator can tell which server was meant.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (*gorm.DB, error) {
	pgxCfg, err := pgx.ParseConfig(cfg.URL)
	if err != nil {
		// The parse error may echo the URL, password included; keep only that it failed.
		return nil, fmt.Errorf("db: database url is not a valid PostgreSQL connection string")
	}
	where := fmt.Sprintf("host=%s port=%d database=%s", pgxCfg.Host, pgxCfg.Port, pgxCfg.Database)
	// Runtime parameters travel in the startup packet, so every pooled connection gets them
	// without an extra round trip and a reset connection cannot lose them.
	if cfg.ApplicationName != "" {
		pgxCfg.RuntimeParams["application_name"] = cfg.ApplicationName
	}
	if cfg.TransactionPooling {
		// Exec mode sends Parse/Bind/Execute of an unnamed statement in one message, so the
		// pooler cannot move the client between them; the default mode's cache of named
		// prepared statements would name statements that exist on another server connection.
		pgxCfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	} else {
		pgxCfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(cfg.StatementTimeout.Milliseconds(), 10)
	}
	if cfg.ConnectTimeout > 0 {
		pgxCfg.ConnectTimeout = cfg.ConnectTimeout
	}

	// After a connection is found broken, the ones idle since are pinged before reuse.
	losses := newLossWatch(cfg.OnConnectionLost)
	if cfg.TransactionPooling {
		pgxCfg.DialFunc = withoutCancelRequests(pgxCfg.DialFunc)
	}
	pgxCfg.DialFunc = losses.dial(pgxCfg.DialFunc)
	pgxCfg.OnPgError = losses.onPgError

	sqlDB := stdlib.OpenDB(*pgxCfg, stdlib.OptionShouldPing(losses.shouldPing),
		stdlib.OptionAfterConnect(func(_ context.Context, conn *pgx.Conn) error {
			// pgx encodes a google/uuid UUID through its driver.Valuer: to text, a failed
			// binary encode (whose error message it formats), a parse, then binary again.
			// Registering the type encodes it directly; it was 14% of the CPU of a get by id.
			pgxuuid.Register(conn.TypeMap())
			losses.arm(conn)
			return nil
		}))
	applyPool(sqlDB, cfg)

	gdb, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), &gorm.Config{
		TranslateError: true,
		// Our own ping below is bounded by ConnectTimeout and names the server; GORM's is neither.
		DisableAutomaticPing: true,
		Logger:               NewLogger(logger, cfg.SlowQueryThreshold),
		// UTC with microseconds: what timestamptz stores, so values read back compare equal.
		NowFunc: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
	})
	if err == nil {
		err = gdb.Use(&observers{fns: map[int]func(string, []any){}})
	}
	if err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("db: open %s: %w", where, err)
	}

	if cfg.NoStartupPing {
		return gdb, nil
	}
	pingCtx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("db: cannot reach PostgreSQL at %s within %s: %w", where, cfg.ConnectTimeout, err)
	}
	return gdb, nil
}

func applyPool(sqlDB *sql.DB, cfg Config) {
	sqlDB.SetMaxOpenConns(cfg.MaxOpenConns)
	sqlDB.SetMaxIdleConns(cfg.MaxIdleConns)
	sqlDB.SetConnMaxLifetime(cfg.ConnMaxLifetime)
	sqlDB.SetConnMaxIdleTime(cfg.ConnMaxIdleTime)
}

// Close closes the pool under gdb.
func Close(gdb *gorm.DB) error {
	sqlDB, err := gdb.DB()
	if err != nil {
		return fmt.Errorf("db: close: %w", err)
	}
	return sqlDB.Close()
}
