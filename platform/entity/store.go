// Package entity is the storage and HTTP plumbing every versioned, soft-deletable entity with
// an audit trail shares: create with a "created" audit row, get, update under If-Match, soft
// delete and restore with a version bump, and the audit trail in keyset pages — each change
// and its audit row (and the module's domain events, through Kind.OnChange) in one
// transaction. A module describes its kind once and keeps only what is its own: fields,
// validation, lists and queries.
package entity

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"usersvc/platform/actor"
	"usersvc/platform/apperr"
	"usersvc/platform/db"
)

// Store runs the shared operations of one kind of entity.
type Store[T any, PT interface {
	*T
	Row
}, E Audit] struct {
	db      db.Transactor
	cursors *db.Cursors
	kind    Kind[T, E]
	now     func() time.Time
	byID    db.ByID[T]
}

// NewStore returns the Store of kind over d; cursors sign the audit trail's pages.
func NewStore[T any, PT interface {
	*T
	Row
}, E Audit](d db.Transactor, cursors *db.Cursors, kind Kind[T, E]) *Store[T, PT, E] {
	return &Store[T, PT, E]{db: d, cursors: cursors, kind: kind, now: Now}
}

// NewID is a new entity's id: a UUIDv7, so ids grow with time and index well.
func NewID(module string) (uuid.UUID, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.Nil, fmt.Errorf("%s: new id: %w", module, err)
	}
	return id, nil
}

// Now is the time a change is stamped with: UTC, to the microsecond timestamptz keeps, so
// values read back compare equal.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Create inserts row and its "created" audit row, recording created. ErrConflict naming the
// field when a unique index refuses it.
func (s *Store[T, PT, E]) Create(ctx context.Context, row PT, created Changes) error {
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		audit := s.kind.Audit(row.EntityID(), Created, created, row.ChangedAt(), actor.From(ctx))
		if err := db.InsertBoth(tx, row, &audit); err != nil { // the row and its audit row: one round trip
			return err
		}
		return s.changed(ctx, tx, row, Created)
	})
	return s.fail("create", err, "%s is already taken", "", uuid.Nil)
}

// Insert stores a new entity, built by build with a fresh id and the creation time, with its
// "created" audit row recording created(row). ErrConflict naming the field when a unique
// index refuses it.
func (s *Store[T, PT, E]) Insert(ctx context.Context, build func(id uuid.UUID, at time.Time) PT,
	created func(row PT) Changes) (PT, error) {
	id, err := NewID(s.kind.Module)
	if err != nil {
		return nil, err
	}
	row := build(id, s.now())
	if err := s.Create(ctx, row, created(row)); err != nil {
		return nil, err
	}
	return row, nil
}

// Audit writes an audit row for the entity id in tx: for a change of what belongs to it (a
// member added), which does not make it a new version. The actor is tx's context's.
func (s *Store[T, PT, E]) Audit(tx *gorm.DB, id uuid.UUID, action string, c Changes) error {
	return s.audit(tx, id, action, c, s.now())
}

// audit writes the audit row of a change, by the actor of tx's context (the request's token,
// or the actor of the event a subscriber handles).
func (s *Store[T, PT, E]) audit(tx *gorm.DB, id uuid.UUID, action string, c Changes, at time.Time) error {
	row := s.kind.Audit(id, action, c, at, actor.From(tx.Statement.Context))
	return tx.Create(&row).Error
}

// Failed is how a module's own operation on what belongs to entity id reports err: a missing
// row (the entity) is ErrNotFound naming it, a domain error passes, anything else is wrapped.
func (s *Store[T, PT, E]) Failed(op string, err error, id uuid.UUID) error {
	return s.fail(op, err, "", "%s %s not found", id)
}

// Record writes the audit row of a change to row made in tx and runs Kind.OnChange: for the
// module's own operations beyond the shared ones (a batch insert, say).
func (s *Store[T, PT, E]) Record(ctx context.Context, tx *gorm.DB, row PT, action string, c Changes) error {
	if err := s.audit(tx, row.EntityID(), action, c, row.ChangedAt()); err != nil {
		return err
	}
	return s.changed(ctx, tx, row, action)
}

// changed runs Kind.OnChange for a change to row whose audit row is written.
func (s *Store[T, PT, E]) changed(ctx context.Context, tx *gorm.DB, row PT, action string) error {
	if s.kind.OnChange == nil {
		return nil
	}
	return s.kind.OnChange(ctx, tx, action, (*T)(row))
}

// Get returns the entity. ErrNotFound when there is none, or it is deleted and
// includeDeleted is false.
func (s *Store[T, PT, E]) Get(ctx context.Context, id uuid.UUID, includeDeleted bool) (PT, error) {
	var row T
	err := s.db.Read(ctx, func(tx *gorm.DB) error { return s.byID.Get(tx, id, includeDeleted, &row) })
	if err := s.Failed("get", err, id); err != nil {
		return nil, err
	}
	return &row, nil
}

// Update changes the live entity when its version is ifVersion (0: any): apply sets the
// new values on row and says what changed; when something did, columns are written with a
// new version and an "updated" audit row. ErrNotFound, ErrVersionMismatch, or ErrConflict
// naming the field.
func (s *Store[T, PT, E]) Update(ctx context.Context, id uuid.UUID, ifVersion int,
	apply func(tx *gorm.DB, row PT) (Changes, error), columns ...string) (PT, error) {
	var row T
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		row = *new(T) // the closure may run again after a retry
		// Concurrent updates queue on the row lock and then see the new version. NO KEY
		// UPDATE: another module's FOR KEY SHARE check that the entity is live does not wait.
		if err := Lock(tx, id, &row, "NO KEY UPDATE", false); err != nil {
			return err
		}
		p := PT(&row)
		if ifVersion != 0 && p.EntityVersion() != ifVersion {
			return apperr.VersionMismatch("%s %s is at version %d, If-Match named %d", s.kind.Name, id, p.EntityVersion(), ifVersion)
		}
		changes, err := apply(tx, p)
		if err != nil || len(changes) == 0 {
			return err // nothing changes: no new version, no audit row
		}
		p.Touch(s.now())
		if err := tx.Model(p).Select(append(columns, "version", "updated_at")).Updates(p).Error; err != nil {
			return err
		}
		return s.Record(ctx, tx, p, Updated, changes)
	})
	if err := s.fail("update", err, "%s is already taken", "%s %s not found", id); err != nil {
		return nil, err
	}
	return &row, nil
}

// Delete soft-deletes the live entity. ErrNotFound when there is none or it is deleted
// already.
func (s *Store[T, PT, E]) Delete(ctx context.Context, id uuid.UUID) error {
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		var row T
		// Without deleted rows: deleting twice finds nothing. FOR UPDATE waits for, and then
		// stops, other modules' FOR KEY SHARE checks that the entity is live.
		if err := Lock(tx, id, &row, "UPDATE", false); err != nil {
			return err
		}
		now := s.now()
		res := tx.Model(new(T)).Where("id = ?", id).
			UpdateColumns(map[string]any{"deleted_at": now, "updated_at": now, "version": gorm.Expr("version + 1")})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return gorm.ErrRecordNotFound
		}
		PT(&row).Touch(now)
		return s.Record(ctx, tx, &row, Deleted, Changes{})
	})
	return s.Failed("delete", err, id)
}

// Restore brings a deleted entity back. ErrNotFound when there is none or it is not
// deleted; ErrConflict naming the field when a live entity now holds one of its unique
// values.
func (s *Store[T, PT, E]) Restore(ctx context.Context, id uuid.UUID) (PT, error) {
	var row T
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		row = *new(T) // the closure may run again after a retry
		if err := Lock(tx, id, new(T), "UPDATE", true); err != nil {
			return err
		}
		set := map[string]any{"updated_at": s.now(), "version": gorm.Expr("version + 1")}
		for k, v := range s.kind.RestoreAlso {
			set[k] = v
		}
		n, err := db.Restore[T](tx.Where("id = ?", id), set)
		if err != nil {
			return err
		}
		if n == 0 {
			return gorm.ErrRecordNotFound
		}
		if err := tx.Where("id = ?", id).Take(&row).Error; err != nil {
			return err
		}
		return s.Record(ctx, tx, &row, Restored, Changes{})
	})
	if err := s.fail("restore", err, "cannot restore: a live "+s.kind.Name+" now has this %s", "no deleted %s %s", id); err != nil {
		return nil, err
	}
	return &row, nil
}

// Events returns a page of the entity's audit trail, newest first; deleted entities keep
// theirs. ErrNotFound when the entity never existed; ErrInvalid for a bad cursor.
func (s *Store[T, PT, E]) Events(ctx context.Context, id uuid.UUID, cursor string, limit int) (db.Page[E], error) {
	return ChildPage(ctx, s, id, true, auditKeyset[E](), func(tx *gorm.DB) *gorm.DB {
		return tx.Where(s.kind.AuditOwner+" = ?", id)
	}, "_events", cursor, limit)
}

// ChildPage reads a keyset page of what belongs to the entity id, which must exist (live,
// unless withDeleted): query selects those rows; list names them ("_members"), for the
// cursor's scope. ErrNotFound naming the entity; ErrInvalid for a bad cursor.
func ChildPage[T any, PT interface {
	*T
	Row
}, E Audit, C any](ctx context.Context, s *Store[T, PT, E], id uuid.UUID, withDeleted bool, ks db.Keyset[C],
	query func(tx *gorm.DB) *gorm.DB, list, cursor string, limit int) (db.Page[C], error) {
	var page db.Page[C]
	err := s.db.Read(ctx, func(tx *gorm.DB) error {
		var n int64
		parent := tx.Model(new(T))
		if withDeleted {
			parent = parent.Scopes(db.WithDeleted)
		}
		if err := parent.Where("id = ?", id).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return gorm.ErrRecordNotFound
		}
		var err error
		page, err = ks.Find(query(tx), s.cursors, s.kind.Name+list+"|"+id.String(), cursor, limit)
		return err
	})
	if errors.Is(err, db.ErrBadCursor) {
		return db.Page[C]{}, apperr.Invalid("cursor: %v", err)
	}
	if err := s.Failed(list, err, id); err != nil {
		return db.Page[C]{}, err
	}
	return page, nil
}

// Now is the time the store stamps changes with.
func (s *Store[T, PT, E]) Now() time.Time { return s.now() }

// auditKeyset orders an entity's audit rows newest first by id: ids grow in commit order of
// the entity's changes (each change holds the entity's row lock), whatever the clocks of
// the instances that wrote them say.
func auditKeyset[E Audit]() db.Keyset[E] {
	return db.Keyset[E]{
		Columns: []string{"id"},
		Desc:    true,
		Values:  func(e *E) []any { return []any{(*e).Entry().ID} },
		Targets: func() []any { return []any{new(int64)} },
	}
}

// Lock reads the row of id into row with FOR strength ("UPDATE", "NO KEY UPDATE", …). Every
// change takes such a lock before it reads the clock, so the changes of one entity happen,
// are timestamped, and get audit ids in the same order. gorm.ErrRecordNotFound when there
// is no such (live, unless includeDeleted) row.
func Lock(tx *gorm.DB, id uuid.UUID, row any, strength string, includeDeleted bool) error {
	if includeDeleted {
		tx = tx.Scopes(db.WithDeleted)
	}
	return tx.Clauses(clause.Locking{Strength: strength}).Where("id = ?", id).Take(row).Error
}

// fail turns an operation's error into the domain error a client sees: a unique violation
// into ErrConflict (conflict names the field with %s; "" when the operation cannot have
// one), a missing row into ErrNotFound (notFound formats the kind's name and id; "" when
// the operation cannot miss one), anything else wrapped with the module and operation.
func (s *Store[T, PT, E]) fail(op string, err error, conflict, notFound string, id uuid.UUID) error {
	if err == nil {
		return nil
	}
	if field := db.UniqueViolation(err, s.kind.Unique); field != "" && conflict != "" {
		return apperr.Conflict(conflict, field)
	}
	if errors.Is(err, gorm.ErrRecordNotFound) && notFound != "" {
		return apperr.NotFound(notFound, s.kind.Name, id)
	}
	return fmt.Errorf("%s: %s: %w", s.kind.Module, op, err)
}
