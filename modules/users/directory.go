package users

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"usersvc/modules/users/userapi"
	"usersvc/platform/apperr"
	"usersvc/platform/db"
)

// directory implements userapi.Directory. Its Transactor joins the caller's transaction when
// ctx carries one (db.WithTx), so the lock lasts as long as that transaction.
type directory struct{ db db.Transactor }

// LockLive implements userapi.Directory.
func (d directory) LockLive(ctx context.Context, id uuid.UUID) (userapi.Generation, error) {
	var u User
	err := d.db.Read(ctx, func(tx *gorm.DB) error {
		return tx.Clauses(clause.Locking{Strength: "KEY SHARE"}).Select("id", "generation").
			Where("id = ?", id).Take(&u).Error
	})
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return 0, apperr.NotFound("user %s not found", id)
	}
	if err != nil {
		return 0, fmt.Errorf("users: lock live: %w", err)
	}
	return userapi.Generation(u.Generation), nil
}
