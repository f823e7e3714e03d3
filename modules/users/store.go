package users

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"usersvc/platform/apperr"
	"usersvc/platform/db"
)

// store is the GORM implementation of Repository.
type store struct {
	db      Runner
	cursors *db.Cursors
	now     func() time.Time
}

func newStore(r Runner, cursors *db.Cursors) *store {
	return &store{db: r, cursors: cursors, now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
}

// uniqueFields maps our unique indexes to the request field they protect.
var uniqueFields = map[string]string{
	"users_username_lower_key": "username",
	"users_email_lower_key":    "email",
}

// conflictField returns the field a unique violation is about, or "" for any other error.
func conflictField(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return uniqueFields[pgErr.ConstraintName]
	}
	return ""
}

func (s *store) newUser(r Registration, at time.Time) (User, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return User{}, fmt.Errorf("users: new id: %w", err)
	}
	return User{ID: id, Username: r.Username, Email: r.Email, FullName: r.FullName, Version: 1, CreatedAt: at, UpdatedAt: at}, nil
}

func createdEvent(u *User) Event {
	return Event{UserID: u.ID, Action: ActionCreated, At: u.CreatedAt,
		Changes: Changes{"username": u.Username, "email": u.Email, "full_name": u.FullName}}
}

// Register implements Repository.
func (s *store) Register(ctx context.Context, r Registration) (*User, error) {
	u, err := s.newUser(r, s.now())
	if err != nil {
		return nil, err
	}
	err = s.db.Transact(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&u).Error; err != nil {
			return err
		}
		ev := createdEvent(&u)
		return tx.Create(&ev).Error
	})
	if field := conflictField(err); field != "" {
		return nil, apperr.Conflict("%s is already taken", field)
	}
	if err != nil {
		return nil, fmt.Errorf("users: register: %w", err)
	}
	return &u, nil
}

// Get implements Repository.
func (s *store) Get(ctx context.Context, id uuid.UUID, includeDeleted bool) (*User, error) {
	var u User
	err := s.db.Read(ctx, func(tx *gorm.DB) error {
		if includeDeleted {
			tx = tx.Scopes(db.WithDeleted)
		}
		return tx.Where("id = ?", id).Take(&u).Error
	})
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, apperr.NotFound("user %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("users: get: %w", err)
	}
	return &u, nil
}

// Update implements Repository.
func (s *store) Update(ctx context.Context, id uuid.UUID, ifVersion int, p Patch) (*User, error) {
	var u User
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		u = User{} // the closure may run again after a retry
		// Concurrent updates queue on the row lock and then see the new version.
		if err := lockUser(tx, id, &u, false); err != nil {
			return err
		}
		if ifVersion != 0 && u.Version != ifVersion {
			return apperr.VersionMismatch("user %s is at version %d, If-Match named %d", id, u.Version, ifVersion)
		}
		changes := p.apply(&u)
		if len(changes) == 0 {
			return nil // nothing changes: no new version, no event
		}
		u.Version++
		u.UpdatedAt = s.now()
		err := tx.Model(&u).Select("username", "email", "full_name", "version", "updated_at").Updates(&u).Error
		if err != nil {
			return err
		}
		return tx.Create(&Event{UserID: id, Action: ActionUpdated, Changes: changes, At: u.UpdatedAt}).Error
	})
	switch field := conflictField(err); {
	case field != "":
		return nil, apperr.Conflict("%s is already taken", field)
	case errors.Is(err, gorm.ErrRecordNotFound):
		return nil, apperr.NotFound("user %s not found", id)
	case err != nil:
		return nil, fmt.Errorf("users: update: %w", err)
	}
	return &u, nil
}

// lockUser reads the user's row with FOR UPDATE. Every change takes this lock before it reads
// the clock, so the changes of one user happen, are timestamped, and get event ids in the
// same order. gorm.ErrRecordNotFound when there is no such (live, unless includeDeleted) user.
func lockUser(tx *gorm.DB, id uuid.UUID, u *User, includeDeleted bool) error {
	if includeDeleted {
		tx = tx.Scopes(db.WithDeleted)
	}
	return tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ?", id).Take(u).Error
}

// apply sets p's fields on u and returns what changed as {"field": {"from": …, "to": …}}.
func (p Patch) apply(u *User) Changes {
	changes := Changes{}
	set := func(name string, dst *string, v *string) {
		if v != nil && *v != *dst {
			changes[name] = map[string]string{"from": *dst, "to": *v}
			*dst = *v
		}
	}
	set("username", &u.Username, p.Username)
	set("email", &u.Email, p.Email)
	set("full_name", &u.FullName, p.FullName)
	return changes
}

// Delete implements Repository.
func (s *store) Delete(ctx context.Context, id uuid.UUID) error {
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		// Without deleted rows: deleting twice finds nothing.
		if err := lockUser(tx, id, &User{}, false); err != nil {
			return err
		}
		now := s.now()
		res := tx.Model(&User{}).Where("id = ?", id).
			UpdateColumns(map[string]any{"deleted_at": now, "updated_at": now, "version": gorm.Expr("version + 1")})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return gorm.ErrRecordNotFound
		}
		return tx.Create(&Event{UserID: id, Action: ActionDeleted, Changes: Changes{}, At: now}).Error
	})
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return apperr.NotFound("user %s not found", id)
	}
	if err != nil {
		return fmt.Errorf("users: delete: %w", err)
	}
	return nil
}

// Restore implements Repository.
func (s *store) Restore(ctx context.Context, id uuid.UUID) (*User, error) {
	var u User
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		u = User{} // the closure may run again after a retry
		if err := lockUser(tx, id, &User{}, true); err != nil {
			return err
		}
		now := s.now()
		n, err := db.Restore[User](tx.Where("id = ?", id),
			map[string]any{"updated_at": now, "version": gorm.Expr("version + 1")})
		if err != nil {
			return err
		}
		if n == 0 {
			return gorm.ErrRecordNotFound
		}
		if err := tx.Where("id = ?", id).Take(&u).Error; err != nil {
			return err
		}
		return tx.Create(&Event{UserID: id, Action: ActionRestored, Changes: Changes{}, At: now}).Error
	})
	switch field := conflictField(err); {
	case field != "":
		return nil, apperr.Conflict("cannot restore: a live user now has this %s", field)
	case errors.Is(err, gorm.ErrRecordNotFound):
		return nil, apperr.NotFound("no deleted user %s", id)
	case err != nil:
		return nil, fmt.Errorf("users: restore: %w", err)
	}
	return &u, nil
}
