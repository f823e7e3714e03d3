// Package userapitest stands in for the users module behind its contract, for tests that
// serve another module alone: a module named "users" whose only table has the shape of the
// published view (user_directory), a userapi.Directory over it, and Add and Delete to play
// the users module's part.
package userapitest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-gormigrate/gormigrate/v2"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"usersvc/migrations"
	"usersvc/modules/users/userapi"
	"usersvc/platform/apperr"
	"usersvc/platform/db"
	"usersvc/platform/module"
)

// Stub is the stand-in module and its Directory.
type Stub struct {
	db   db.Transactor
	mu   sync.Mutex
	gens map[uuid.UUID]int // the generation each user had last
}

// New returns a stub over d (give it app.Deps.ForModule("users")).
func New(d db.Transactor) *Stub { return &Stub{db: d, gens: map[uuid.UUID]int{}} }

// entry is a row of the stub's user_directory: a live user in a generation.
type entry struct {
	ID         uuid.UUID `gorm:"type:uuid;primaryKey"`
	Generation int       `gorm:"type:integer;not null"`
}

func (entry) TableName() string { return userapi.View }

// Name is the module the stub stands in for.
func (*Stub) Name() string { return "users" }

// Models is the stub's one table.
func (*Stub) Models() []any { return []any{&entry{}} }

// Migrations create the table in the view's place.
func (*Stub) Migrations() []*gormigrate.Migration {
	return []*gormigrate.Migration{{
		ID: "202611250000_stub_user_directory",
		Migrate: func(tx *gorm.DB) error {
			return migrations.Exec(tx, `CREATE TABLE `+userapi.View+` (id uuid PRIMARY KEY, generation integer NOT NULL)`)
		},
		Rollback: func(tx *gorm.DB) error { return migrations.Exec(tx, `DROP TABLE `+userapi.View) },
	}}
}

// Routes: the stub serves nothing.
func (*Stub) Routes(*echo.Group) {}

// OpenAPI: nothing served, nothing documented.
func (*Stub) OpenAPI() []byte { return nil }

// Manifest publishes what the users module publishes to others.
func (*Stub) Manifest() module.Manifest {
	return module.Manifest{Contract: "usersvc/modules/users/userapi", Views: []string{userapi.View}}
}

// LockLive implements userapi.Directory over the stub's table.
func (s *Stub) LockLive(ctx context.Context, id uuid.UUID) (userapi.Generation, error) {
	var e entry
	err := s.db.Read(ctx, func(tx *gorm.DB) error {
		return tx.Clauses(clause.Locking{Strength: "KEY SHARE"}).Where("id = ?", id).Take(&e).Error
	})
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return 0, apperr.NotFound("user %s not found", id)
	}
	if err != nil {
		return 0, fmt.Errorf("userapitest: lock live: %w", err)
	}
	return userapi.Generation(e.Generation), nil
}

// Add makes id a live user: a new one, or one restored in its next generation.
func (s *Stub) Add(ctx context.Context, id uuid.UUID) error {
	s.mu.Lock()
	s.gens[id]++
	gen := s.gens[id]
	s.mu.Unlock()
	return s.db.Transact(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO `+userapi.View+` (id, generation) VALUES (?, ?)`, id, gen).Error
	})
}

// Delete ends id's life, as a delete of the user does for the view.
func (s *Stub) Delete(ctx context.Context, id uuid.UUID) error {
	return s.db.Transact(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`DELETE FROM `+userapi.View+` WHERE id = ?`, id).Error
	})
}

var _ userapi.Directory = (*Stub)(nil)
