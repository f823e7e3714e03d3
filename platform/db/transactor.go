package db

import (
	"context"

	"gorm.io/gorm"
)

// Transactor is how modules reach the database: Transact for every write, Read for queries.
// *Runner implements it with the resilience layers; a module holds it, never a *gorm.DB.
type Transactor interface {
	Transact(ctx context.Context, fn func(tx *gorm.DB) error) error
	Read(ctx context.Context, fn func(tx *gorm.DB) error) error
}

var _ Transactor = (*Runner)(nil)
