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

// errBatchConflict carries the first item of a batch that collides, on which fields and with
// whom, out of the transaction.
type errBatchConflict struct {
	index int
	taken []taken // username first, then email
}

// taken is a field of an item that someone else holds: an earlier item of the batch (by its
// index) or a stored live user (-1).
type taken struct {
	field string
	by    int
}

// Error reads "users[1]: email is already taken by users[0]", "users[0]: username and email
// are already taken by a stored user", or "users[2]: username is already taken by users[0],
// email by a stored user".
func (e *errBatchConflict) Error() string {
	holder := func(by int) string {
		if by < 0 {
			return "a stored user"
		}
		return usersPath(by)
	}
	head := usersPath(e.index) + ": "
	if len(e.taken) == 2 && e.taken[0].by == e.taken[1].by {
		return head + "username and email are already taken by " + holder(e.taken[0].by)
	}
	parts := make([]string, len(e.taken))
	for k, t := range e.taken {
		parts[k] = t.field + " by " + holder(t.by)
		if k == 0 {
			parts[k] = t.field + " is already taken by " + holder(t.by)
		}
	}
	return head + strings.Join(parts, ", ")
}

// RegisterBatch implements Repository. Emails are stored in their normal form, with their
// keys. A batch whose items collide with one another is refused before anything is written.
// Otherwise all rows go in one multi-row INSERT … ON CONFLICT DO NOTHING: rows that would
// break a unique index (against stored users) are skipped rather than failing the statement.
// Either way the conflict named is that of the first colliding item in request order, with
// every field of it that collides and with whom (findBatchConflict); the transaction is
// rolled back and nothing is stored.
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
		if firstConflict(users, storedHolds{}) != nil { // items collide with one another
			return findBatchConflict(tx, users)
		}
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

// findBatchConflict names the first item, in request order, that collides with an earlier
// item or with a stored live user, and every field of it that does (username
// case-insensitively, email by its key, or by lower(email) against rows stored before the
// key existed). It reads which of the items' values live users hold, leaving out the batch's
// own rows if they were inserted.
func findBatchConflict(tx *gorm.DB, users []User) error {
	ids := make([]uuid.UUID, len(users))
	names := make([]string, len(users))
	keys := make([]string, len(users))
	lowers := make([]string, len(users))
	for i := range users {
		ids[i], names[i], keys[i], lowers[i] = users[i].ID, db.ASCIILower(users[i].Username), users[i].EmailKey,
			db.ASCIILower(users[i].Email)
	}
	var rows []struct{ Name, EmailKey, Email string }
	err := tx.Model(&User{}).Select("lower(username) AS name", "email_key", "lower(email) AS email").
		Where("id NOT IN ? AND (lower(username) IN ? OR email_key IN ? OR lower(email) IN ?)", ids, names, keys, lowers).
		Scan(&rows).Error
	if err != nil {
		return err
	}
	held := storedHolds{names: map[string]bool{}, keys: map[string]bool{}, emails: map[string]bool{}}
	for _, r := range rows {
		held.names[r.Name], held.keys[r.EmailKey], held.emails[r.Email] = true, true, true
	}
	if c := firstConflict(users, held); c != nil {
		return c
	}
	return errors.New("users: batch inserted fewer rows than given, yet no item collides")
}

// storedHolds are the lowercased usernames, email keys and lowercased emails of live users
// that items of a batch also have.
type storedHolds struct{ names, keys, emails map[string]bool }

// firstConflict is the first item in request order whose username or email an earlier item
// or a stored user (held) holds; nil when none does.
func firstConflict(users []User, held storedHolds) *errBatchConflict {
	names := make(map[string]int, len(users))
	keys := make(map[string]int, len(users))
	for i := range users {
		name, key := db.ASCIILower(users[i].Username), users[i].EmailKey
		var t []taken
		// An earlier item holding a value a stored user holds too would have been named first.
		if j, ok := names[name]; ok {
			t = append(t, taken{field: "username", by: j})
		} else if held.names[name] {
			t = append(t, taken{field: "username", by: -1})
		}
		if j, ok := keys[key]; ok {
			t = append(t, taken{field: "email", by: j})
		} else if held.keys[key] || held.emails[db.ASCIILower(users[i].Email)] {
			t = append(t, taken{field: "email", by: -1})
		}
		if len(t) > 0 {
			return &errBatchConflict{index: i, taken: t}
		}
		names[name], keys[key] = i, i
	}
	return nil
}
