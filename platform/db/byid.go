package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// ByID reads one T by primary key with a statement compiled once from T's GORM schema and
// scanned straight into T's fields. It is the hottest read of every entity (GET
// /{kind}/{id}); GORM building the statement and scanning by reflection each time cost more
// CPU than the round trip (make perf, BenchmarkLayers). The columns are named, not *, so a
// column added by a later migration does not change what a cached statement returns. Soft
// delete is honoured like GORM's: deleted rows only when asked for.
type ByID[T any] struct {
	once   sync.Once
	err    error
	live   string // deleted rows excluded
	all    string
	fields []*schema.Field
}

// Get reads the row whose primary key is id into dst, on tx's connection (a pool or a
// transaction) and context. gorm.ErrRecordNotFound when there is none (or it is deleted and
// includeDeleted is false). The statement goes through tx's logger like GORM's own.
func (g *ByID[T]) Get(tx *gorm.DB, id any, includeDeleted bool, dst *T) error {
	if g.once.Do(func() { g.err = g.compile(tx) }); g.err != nil {
		return g.err
	}
	q := g.live
	if includeDeleted {
		q = g.all
	}
	ctx := tx.Statement.Context // GORM's is never nil
	rv := reflect.ValueOf(dst).Elem()
	targets := make([]any, len(g.fields))
	for i, f := range g.fields {
		targets[i] = f.ReflectValueOf(ctx, rv).Addr().Interface()
	}
	begin := time.Now()
	err := queryRow(ctx, tx.Statement.ConnPool, q, id, targets)
	rows := int64(1)
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) {
		err, rows = gorm.ErrRecordNotFound, 0
	}
	sent(tx, begin, q, []any{id}, rows, err)
	return err
}

// queryRow runs q on pool and scans its one row into targets. On the pool itself (not in a
// transaction) it borrows a connection and uses pgx directly: database/sql's pgx adapter
// spends about 20 allocations per query setting up its row scanners.
func queryRow(ctx context.Context, pool gorm.ConnPool, q string, id any, targets []any) error {
	sqlDB, ok := pool.(*sql.DB)
	if !ok {
		return pool.QueryRowContext(ctx, q, id).Scan(targets...)
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		pc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("db: by id: driver connection is %T, not pgx's", driverConn)
		}
		return pc.Conn().QueryRow(ctx, q, id).Scan(targets...)
	})
}

func (g *ByID[T]) compile(tx *gorm.DB) error {
	stmt := &gorm.Statement{DB: tx}
	if err := stmt.Parse(new(T)); err != nil { // GORM's own schema cache
		return fmt.Errorf("db: by id: %T: %w", *new(T), err)
	}
	s := stmt.Schema
	if s.PrioritizedPrimaryField == nil {
		return fmt.Errorf("db: by id: %T has no primary key", *new(T))
	}
	var cols []string
	deletedAt := ""
	for _, f := range s.Fields {
		if f.DBName == "" || !f.Readable {
			continue
		}
		g.fields = append(g.fields, f)
		cols = append(cols, quote(f.DBName))
		if f.FieldType == deletedAtType {
			deletedAt = f.DBName
		}
	}
	g.all = fmt.Sprintf("SELECT %s FROM %s WHERE %s = $1", strings.Join(cols, ", "), quote(s.Table), quote(s.PrioritizedPrimaryField.DBName))
	g.live = g.all
	if deletedAt != "" {
		g.live += " AND " + quote(deletedAt) + " IS NULL"
	}
	return nil
}

// quote quotes a schema-made identifier for PostgreSQL.
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }
