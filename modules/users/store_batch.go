package users

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"usersvc/modules/users/userapi"
	"usersvc/platform/actor"
	"usersvc/platform/apperr"
	"usersvc/platform/db"
	"usersvc/platform/entity"
)

// errBatchConflict carries which item of a batch conflicted out of the transaction.
type errBatchConflict struct {
	index int
	field string
}

func (e *errBatchConflict) Error() string {
	return fmt.Sprintf("users[%d]: %s is already taken", e.index, e.field)
}

// RegisterBatch implements Repository. All rows go in one multi-row INSERT … ON CONFLICT DO
// NOTHING: rows that would break a unique index (against stored users or earlier items of the
// batch) are skipped rather than failing the statement, so the first missing row names the
// first conflicting item; then the transaction is rolled back and nothing is stored.
func (s *store) RegisterBatch(ctx context.Context, rs []Registration) ([]User, error) {
	now := s.Now()
	users := make([]User, len(rs))
	for i, r := range rs {
		email, key, err := storedEmail(r.Email, usersPath(i)+".email")
		if err != nil {
			return nil, err
		}
		r.Email = email
		id, err := entity.NewID("users")
		if err != nil {
			return nil, err
		}
		users[i] = *newUser(id, r, key, now)
	}
	// Inserting in one global order (by lower(username)) makes concurrent batches take the
	// username index's locks in the same order, so most overlapping batches queue instead of
	// deadlocking; batches whose emails cross in the other order can still deadlock, and the
	// Runner retries the victim.
	sorted := slices.Clone(users)
	slices.SortFunc(sorted, func(a, b User) int { return strings.Compare(db.ASCIILower(a.Username), db.ASCIILower(b.Username)) })
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&sorted)
		if res.Error != nil {
			return res.Error
		}
		if int(res.RowsAffected) < len(users) {
			return findBatchConflict(tx, users)
		}
		audit := make([]Event, len(users))
		created := make([]*User, len(users))
		for i := range users {
			u := &users[i]
			audit[i] = Event{UserID: u.ID, Action: ActionCreated, Changes: createdChanges(u), At: u.CreatedAt, Actor: actor.From(ctx)}
			created[i] = u
		}
		if err := tx.Create(&audit).Error; err != nil {
			return err
		}
		return publish(ctx, tx, s.events, userapi.Created, created...)
	})
	var conflict *errBatchConflict
	switch {
	case errors.As(err, &conflict):
		return nil, apperr.Conflict("%s", conflict.Error())
	case err != nil:
		return nil, fmt.Errorf("users: register batch: %w", err)
	}
	return users, nil
}

// findBatchConflict finds the first item that was not inserted and which of its fields
// collided: the username when a live user (stored before, or an earlier item) has it.
func findBatchConflict(tx *gorm.DB, users []User) error {
	ids := make([]uuid.UUID, len(users))
	for i := range users {
		ids[i] = users[i].ID
	}
	var inserted []uuid.UUID
	if err := tx.Model(&User{}).Where("id IN ?", ids).Pluck("id", &inserted).Error; err != nil {
		return err
	}
	in := make(map[uuid.UUID]bool, len(inserted))
	for _, id := range inserted {
		in[id] = true
	}
	for i := range users {
		if in[users[i].ID] {
			continue
		}
		var n int64
		err := tx.Model(&User{}).Where("lower(username) = ?", db.ASCIILower(users[i].Username)).Count(&n).Error
		if err != nil {
			return err
		}
		field := "email"
		if n > 0 {
			field = "username"
		}
		return &errBatchConflict{index: i, field: field}
	}
	return fmt.Errorf("users: batch inserted fewer rows than given, yet every row is present")
}
