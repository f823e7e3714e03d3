package users

import (
	"context"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"usersvc/modules/users/userapi"
	"usersvc/platform/apperr"
	"usersvc/platform/db"
	"usersvc/platform/entity"
	"usersvc/platform/events"
)

// store is the GORM implementation of Repository: the operations every entity has come from
// platform/entity; lists, batches and stats are the module's own.
type store struct {
	*entity.Store[User, *User, Event]
	db      db.Transactor
	cursors *db.Cursors
	events  events.Publisher
}

// uniqueFields maps our unique indexes to the request field they protect: emails are unique
// by their key (users_email_key_key); users_email_lower_key, older, refuses no more than it.
var uniqueFields = map[string]string{
	"users_username_lower_key": "username",
	"users_email_key_key":      "email",
	"users_email_lower_key":    "email",
}

func newStore(d db.Transactor, cursors *db.Cursors, pub events.Publisher) *store {
	return &store{db: d, cursors: cursors, events: pub, Store: entity.NewStore[User](d, cursors, entity.Kind[User, Event]{
		Module: "users", Name: "user", Unique: uniqueFields, AuditOwner: "user_id",
		Audit: func(id uuid.UUID, action string, c entity.Changes, at time.Time, actor string) Event {
			return Event{UserID: id, Action: action, Changes: c, At: at, Actor: actor}
		},
		RestoreAlso: map[string]any{"generation": gorm.Expr("generation + 1")},
		OnChange: func(ctx context.Context, tx *gorm.DB, action string, u *User) error {
			return publish(ctx, tx, pub, eventTypes[action], u)
		},
	})}
}

// eventTypes are the userapi event published for each audited action.
var eventTypes = map[string]string{
	ActionCreated: userapi.Created, ActionUpdated: userapi.Updated,
	ActionDeleted: userapi.Deleted, ActionRestored: userapi.Restored,
}

// publish publishes an event of typ for each user, in the transaction of their change.
func publish(ctx context.Context, tx *gorm.DB, pub events.Publisher, typ string, us ...*User) error {
	if pub == nil {
		return nil
	}
	payloads := make([]any, len(us))
	for i, u := range us {
		payloads[i] = userapi.Changed{UserID: u.ID, Version: u.Version, Generation: userapi.Generation(u.Generation)}
	}
	return pub.Publish(ctx, tx, typ, payloads...)
}

// newUser is the row of a registration whose email is in its normal form, with that email's key.
func newUser(id uuid.UUID, r Registration, emailKey string, at time.Time) *User {
	return &User{ID: id, Username: r.Username, Email: r.Email, EmailKey: emailKey, FullName: r.FullName,
		Version: 1, Generation: 1, CreatedAt: at, UpdatedAt: at}
}

// storedEmail is raw in its normal form, and its key (canonicalEmail). ErrInvalid naming
// field (e.g. "users[3].email") and what is wrong when raw is no acceptable address.
func storedEmail(raw, field string) (email, key string, err error) {
	email, key, err = canonicalEmail(raw)
	if err != nil {
		return "", "", apperr.Invalid("%s %v", field, err)
	}
	return email, key, nil
}

// createdChanges is what a "created" event records of a new user.
func createdChanges(u *User) entity.Changes {
	return entity.Changes{"username": u.Username, "email": u.Email, "full_name": u.FullName}
}

// Register implements Repository. The email is stored in its normal form, with its key.
func (s *store) Register(ctx context.Context, r Registration) (*User, error) {
	email, key, err := storedEmail(r.Email, "email")
	if err != nil {
		return nil, err
	}
	r.Email = email
	return s.Insert(ctx, func(id uuid.UUID, at time.Time) *User { return newUser(id, r, key, at) }, createdChanges)
}

// Update implements Repository. A given email is stored in its normal form, with its key;
// one whose normal form is the stored email is no change.
func (s *store) Update(ctx context.Context, id uuid.UUID, ifVersion int, p Patch) (*User, error) {
	var key string
	columns := []string{"username", "email", "full_name"}
	if p.Email != nil {
		email, k, err := storedEmail(*p.Email, "email")
		if err != nil {
			return nil, err
		}
		p.Email, key = &email, k
		columns = append(columns, "email_key")
	}
	return s.Store.Update(ctx, id, ifVersion, func(_ *gorm.DB, u *User) (entity.Changes, error) {
		changes := entity.Apply(entity.Field{Name: "username", Dst: &u.Username, New: p.Username},
			entity.Field{Name: "email", Dst: &u.Email, New: p.Email},
			entity.Field{Name: "full_name", Dst: &u.FullName, New: p.FullName})
		// Written whenever an email is given: rows are read without their key (User.EmailKey),
		// and a row stored before the key existed gets its real one.
		u.EmailKey = key
		return changes, nil
	}, columns...)
}

// Get implements Repository (through entity.Store); Delete, Restore and Events too.
var _ Repository = (*store)(nil)
