package pgxrepo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"

	"usersvc/modules/users"
)

// ErrNotFound is returned when a statement that must touch a row touched none.
var ErrNotFound = errors.New("pgxrepo: no such row")

// Repo runs the repository's operations on a pool the caller built (MaxConns = the run's
// pool size, default exec mode: statement cache and extended protocol, like the app).
type Repo struct {
	pool *pgxpool.Pool
}

// PoolConfig is the baseline's pool: size connections, named in pg_stat_activity, and
// google/uuid registered as pgx's uuid type, as the app's pool has it (otherwise pgx encodes
// each UUID argument through its driver.Valuer, a slow path the app does not take).
func PoolConfig(dbURL string, size int, applicationName string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("pgxrepo: %w", err)
	}
	cfg.MaxConns = int32(size)
	cfg.ConnConfig.RuntimeParams["application_name"] = applicationName
	cfg.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		pgxuuid.Register(conn.TypeMap())
		return nil
	}
	return cfg, nil
}

// New returns a Repo over pool.
func New(pool *pgxpool.Pool) *Repo { return &Repo{pool: pool} }

// Pool is the pool the Repo runs on.
func (r *Repo) Pool() *pgxpool.Pool { return r.pool }

// now is the app's clock: UTC with microseconds, what timestamptz stores.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// NewUser builds the row Register stores for reg, as the GORM repository does (UUIDv7 id).
func NewUser(reg users.Registration, at time.Time) (users.User, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return users.User{}, fmt.Errorf("pgxrepo: new id: %w", err)
	}
	return users.User{ID: id, Username: reg.Username, Email: reg.Email, FullName: reg.FullName,
		Version: 1, Generation: 1, CreatedAt: at, UpdatedAt: at}, nil
}

// userArgs are u's values in userColumns order. The email's key is the one the users module
// computes for an ASCII address (the suites store only those).
func userArgs(u *users.User) []any {
	var deleted *time.Time
	if u.DeletedAt.Valid {
		deleted = &u.DeletedAt.Time
	}
	return []any{u.ID, u.Username, u.Email, u.FullName, u.Version, u.CreatedAt, u.UpdatedAt, deleted, u.Generation, strings.ToLower(u.Email)}
}

// scanUser reads one users row, selected with SELECT * or the model's named columns.
func scanUser(row pgx.CollectableRow) (users.User, error) {
	var u users.User
	var deleted *time.Time
	dst := []any{&u.ID, &u.Username, &u.Email, &u.FullName, &u.Version, &u.CreatedAt, &u.UpdatedAt, &deleted, &u.Generation}
	if len(row.FieldDescriptions()) > len(dst) {
		dst = append(dst, new(string)) // SELECT *'s email_key, which the model never reads back (like GORM)
	}
	err := row.Scan(dst...)
	if deleted != nil {
		u.DeletedAt.Time, u.DeletedAt.Valid = *deleted, true
	}
	return u, err
}

func queryUser(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, sql string, args ...any) (users.User, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return users.User{}, err
	}
	u, err := pgx.CollectExactlyOneRow(rows, scanUser)
	if errors.Is(err, pgx.ErrNoRows) {
		return users.User{}, ErrNotFound
	}
	return u, err
}

// Actor is the actor of the baseline's audit rows, as the app records its token's name.
const Actor = "perf"

func insertEvent(ctx context.Context, tx pgx.Tx, id uuid.UUID, action string, changes map[string]any, at time.Time) error {
	var eventID int64
	return tx.QueryRow(ctx, SQLInsertEvent, id, action, changes, at, Actor).Scan(&eventID)
}

// Register is BEGIN; WITH first AS (INSERT users) INSERT user_events … RETURNING id; COMMIT.
func (r *Repo) Register(ctx context.Context, reg users.Registration) (users.User, error) {
	u, err := NewUser(reg, now())
	if err != nil {
		return users.User{}, err
	}
	err = pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		args := append(userArgs(&u), u.ID, users.ActionCreated,
			map[string]any{"username": u.Username, "email": u.Email, "full_name": u.FullName}, u.CreatedAt, Actor)
		_, err := tx.Exec(ctx, SQLCreate, args...)
		return err
	})
	if err != nil {
		return users.User{}, fmt.Errorf("pgxrepo: register: %w", err)
	}
	return u, nil
}

// Get returns a user (a deleted one only with includeDeleted); ErrNotFound otherwise.
func (r *Repo) Get(ctx context.Context, id uuid.UUID, includeDeleted bool) (users.User, error) {
	sql := SQLGet
	if includeDeleted {
		sql = SQLGetWithDeleted
	}
	return queryUser(ctx, r.pool, sql, id)
}

// Update sets a live user's full name: BEGIN; lock the row; UPDATE (version + 1); INSERT the
// "updated" event; COMMIT. Nothing is written when the name is already fullName.
func (r *Repo) Update(ctx context.Context, id uuid.UUID, fullName string) (users.User, error) {
	var u users.User
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		var err error
		if u, err = queryUser(ctx, tx, SQLLockNoKey, id, 1); err != nil {
			return err
		}
		if u.FullName == fullName {
			return nil
		}
		changes := map[string]any{"full_name": map[string]string{"from": u.FullName, "to": fullName}}
		u.FullName, u.Version, u.UpdatedAt = fullName, u.Version+1, now()
		tag, err := tx.Exec(ctx, SQLUpdate, u.Username, u.Email, u.FullName, u.Version, u.UpdatedAt, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		return insertEvent(ctx, tx, id, users.ActionUpdated, changes, u.UpdatedAt)
	})
	if err != nil {
		return users.User{}, fmt.Errorf("pgxrepo: update: %w", err)
	}
	return u, nil
}

// Delete soft-deletes a live user: lock, UPDATE, "deleted" event, in one transaction.
func (r *Repo) Delete(ctx context.Context, id uuid.UUID) error {
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		if _, err := queryUser(ctx, tx, SQLLock, id, 1); err != nil {
			return err
		}
		at := now()
		tag, err := tx.Exec(ctx, SQLDelete, at, at, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		return insertEvent(ctx, tx, id, users.ActionDeleted, map[string]any{}, at)
	})
	if err != nil {
		return fmt.Errorf("pgxrepo: delete: %w", err)
	}
	return nil
}

// Restore brings a deleted user back: lock, UPDATE, read the row back, "restored" event.
func (r *Repo) Restore(ctx context.Context, id uuid.UUID) (users.User, error) {
	var u users.User
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		if _, err := queryUser(ctx, tx, SQLLockWithDeleted, id, 1); err != nil {
			return err
		}
		at := now()
		tag, err := tx.Exec(ctx, SQLRestore, nil, at, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		if u, err = queryUser(ctx, tx, SQLReread, id, 1); err != nil {
			return err
		}
		return insertEvent(ctx, tx, id, users.ActionRestored, map[string]any{}, at)
	})
	if err != nil {
		return users.User{}, fmt.Errorf("pgxrepo: restore: %w", err)
	}
	return u, nil
}
