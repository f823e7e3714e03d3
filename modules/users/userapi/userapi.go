// Package userapi is what the users module publishes to other modules, and the only part of
// it they may import (the architecture test holds them to it): a directory to check users
// with, the view of live users they may join in SQL, and the events the module publishes.
// The users table and everything else in modules/users stay private.
package userapi

import (
	"context"

	"github.com/google/uuid"
)

// Directory answers other modules' questions about users. app/ wires the users module's
// implementation into the modules that need it.
type Directory interface {
	// LockLive checks that the user exists and is not deleted, and locks it (FOR KEY SHARE)
	// until the caller's transaction ends: a concurrent delete of the user waits for that
	// transaction, and one that committed first makes LockLive fail. Call it with the
	// caller's transaction in ctx (db.WithTx), or the lock ends at once. It returns the
	// user's generation; apperr.ErrNotFound naming the user when there is no live user id.
	LockLive(ctx context.Context, id uuid.UUID) (Generation, error)
}

// Generation counts a user's lives: 1 when registered, one more at each restore. Data
// another module attaches to a user records the generation it was attached in, and is
// visible only while View shows the user with that generation: deleting the user hides
// it at once, and a restore does not bring it back.
type Generation int

// View is the read-only view of live users that other modules may join in their SQL, with
// columns id (uuid) and generation (integer). No other table of the users module may be
// named outside it.
const View = "user_directory"

// The events the users module publishes, in the transaction of the change; the payload of
// each is a Changed.
const (
	Created  = "user.created"
	Updated  = "user.updated"
	Deleted  = "user.deleted"
	Restored = "user.restored"
)

// Changed is the payload of every user event.
type Changed struct {
	UserID     uuid.UUID  `json:"user_id"`
	Version    int        `json:"version"`    // the user's version after the change
	Generation Generation `json:"generation"` // the life the change happened in (a restore: the new one)
}
