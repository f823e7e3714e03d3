package migrations

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

const (
	// idsTable is gormigrate's own table: one row per applied migration ID.
	idsTable = "schema_migrations"
	// historyTable is ours: when each migration was applied, which gormigrate does not keep.
	historyTable = "schema_migrations_history"
)

// ErrUnknownMigrations means the database has applied migrations this binary does not know:
// the database is ahead of the code (a newer release ran, or a branch was deployed).
var ErrUnknownMigrations = errors.New("migrations: the database has migrations this binary does not know")

// ErrUnknownID is returned for a --to ID that is not in the list.
var ErrUnknownID = errors.New("migrations: no migration with that id")

// Options tune a Runner.
type Options struct {
	LockTimeout time.Duration // how long to wait for another instance's run
	// StatementTimeout bounds each statement of a migration (SET LOCAL statement_timeout);
	// 0 means none, so a long index build is not cut by the service's request-sized timeout.
	StatementTimeout time.Duration
	// DDLLockTimeout bounds how long a migration statement waits for a table lock
	// (SET LOCAL lock_timeout); 0 means no limit.
	DDLLockTimeout time.Duration
	Logger         *slog.Logger
}

// Runner applies and rolls back an ordered list of migrations.
type Runner struct {
	db   *gorm.DB
	list []*gormigrate.Migration
	opts Options
}

// NewRunner returns a Runner for list, which should come from Plan.
func NewRunner(gdb *gorm.DB, list []*gormigrate.Migration, opts Options) *Runner {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Runner{db: gdb, list: list, opts: opts}
}

// gormigrateOptions: UseTransaction is off because it would wrap the whole run in one
// transaction; Runner gives each migration a transaction of its own instead, so a failure
// keeps what was applied before it and the bookkeeping always matches the schema.
var gormigrateOptions = &gormigrate.Options{
	TableName:                 idsTable,
	IDColumnName:              "id",
	IDColumnSize:              255,
	UseTransaction:            false,
	ValidateUnknownMigrations: true,
}

// Up applies pending migrations in order, up to and including to ("" means all). It returns
// the IDs it applied.
func (r *Runner) Up(ctx context.Context, to string) ([]string, error) {
	last, err := r.index(to, len(r.list)-1)
	if err != nil {
		return nil, err
	}
	var done []string
	err = withLock(ctx, r.db, r.opts.LockTimeout, func(conn *gorm.DB) error {
		applied, err := r.prepare(conn)
		if err != nil {
			return err
		}
		for _, m := range r.list[:last+1] {
			if _, ok := applied[m.ID]; ok {
				continue
			}
			if err := r.apply(conn, m); err != nil {
				return err
			}
			r.opts.Logger.InfoContext(ctx, "migration applied", "id", m.ID)
			done = append(done, m.ID)
		}
		return nil
	})
	return done, err
}

// Down rolls back applied migrations, newest first: only the last one when to is "" and all
// is false; every one after to when to is set (to itself stays); every one when all is true.
// It returns the IDs it rolled back.
func (r *Runner) Down(ctx context.Context, to string, all bool) ([]string, error) {
	keep := -1 // index of the newest migration that stays
	if to != "" {
		i, err := r.index(to, 0)
		if err != nil {
			return nil, err
		}
		keep = i
	}
	var done []string
	err := withLock(ctx, r.db, r.opts.LockTimeout, func(conn *gorm.DB) error {
		applied, err := r.prepare(conn)
		if err != nil {
			return err
		}
		for i := len(r.list) - 1; i > keep; i-- {
			m := r.list[i]
			if _, ok := applied[m.ID]; !ok {
				continue
			}
			if err := r.rollback(conn, m); err != nil {
				return err
			}
			r.opts.Logger.InfoContext(ctx, "migration rolled back", "id", m.ID)
			done = append(done, m.ID)
			if to == "" && !all {
				break
			}
		}
		return nil
	})
	return done, err
}

func (r *Runner) index(id string, dflt int) (int, error) {
	if id == "" {
		return dflt, nil
	}
	i := slices.IndexFunc(r.list, func(m *gormigrate.Migration) bool { return m.ID == id })
	if i < 0 {
		return 0, fmt.Errorf("%w: %q", ErrUnknownID, id)
	}
	return i, nil
}

// prepare creates the bookkeeping tables when missing, refuses a database that is ahead of
// the code, and returns when each known migration was applied.
func (r *Runner) prepare(conn *gorm.DB) (map[string]time.Time, error) {
	for _, stmt := range []string{
		// Same shape as gormigrate creates, so it finds its table in place.
		`CREATE TABLE IF NOT EXISTS ` + idsTable + ` (id varchar(255) PRIMARY KEY)`,
		`CREATE TABLE IF NOT EXISTS ` + historyTable + ` (
			id varchar(255) PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now())`,
	} {
		if err := conn.Exec(stmt).Error; err != nil {
			return nil, fmt.Errorf("migrations: create bookkeeping tables: %w", err)
		}
	}
	applied, err := readApplied(conn, true)
	if err != nil {
		return nil, err
	}
	var unknown []string
	for _, st := range r.statuses(applied) {
		if !st.Known {
			unknown = append(unknown, st.ID)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%w: %s (upgrade the binary, or roll back with the newer one)", ErrUnknownMigrations, strings.Join(unknown, ", "))
	}
	return applied, nil
}

// apply runs one migration and records it, in one transaction of its own.
func (r *Runner) apply(conn *gorm.DB, m *gormigrate.Migration) error {
	err := conn.Transaction(func(tx *gorm.DB) error {
		if err := r.limitStatements(tx); err != nil {
			return err
		}
		// Every earlier migration is applied, so MigrateTo(m.ID) runs exactly m and lets
		// gormigrate record its ID in this transaction.
		if err := gormigrate.New(tx, gormigrateOptions, r.list).MigrateTo(m.ID); err != nil {
			return err
		}
		// A row may survive from a rollback done outside this runner: overwrite it.
		return tx.Exec(`INSERT INTO `+historyTable+` (id, applied_at) VALUES (?, now())
			ON CONFLICT (id) DO UPDATE SET applied_at = excluded.applied_at`, m.ID).Error
	})
	if err != nil {
		return fmt.Errorf("migrations: apply %s: %w", m.ID, err)
	}
	return nil
}

// rollback undoes one migration and its records, in one transaction of its own.
func (r *Runner) rollback(conn *gorm.DB, m *gormigrate.Migration) error {
	err := conn.Transaction(func(tx *gorm.DB) error {
		if err := r.limitStatements(tx); err != nil {
			return err
		}
		if err := gormigrate.New(tx, gormigrateOptions, r.list).RollbackMigration(m); err != nil {
			return err
		}
		return tx.Exec(`DELETE FROM `+historyTable+` WHERE id = ?`, m.ID).Error
	})
	if err != nil {
		return fmt.Errorf("migrations: roll back %s: %w", m.ID, err)
	}
	return nil
}

// limitStatements bounds the migration's statements. lock_timeout matters most: DDL waiting
// for a table lock behind a long transaction makes every later query of that table queue
// behind it, so a migration that cannot get its lock soon fails instead of stalling traffic.
func (r *Runner) limitStatements(tx *gorm.DB) error {
	if err := tx.Exec(fmt.Sprintf("SET LOCAL statement_timeout = %d", r.opts.StatementTimeout.Milliseconds())).Error; err != nil {
		return err
	}
	return tx.Exec(fmt.Sprintf("SET LOCAL lock_timeout = %d", r.opts.DDLLockTimeout.Milliseconds())).Error
}
