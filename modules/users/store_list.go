package users

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"usersvc/platform/apperr"
	"usersvc/platform/db"
)

// keysets are the only orders a list can have; each ends in the unique id and matches an
// index from the migrations.
var keysets = map[Sort]db.Keyset[User]{
	SortCreated:     {Columns: []string{"created_at", "id"}, Values: createdKey, Targets: createdTargets},
	SortCreatedDesc: {Columns: []string{"created_at", "id"}, Desc: true, Values: createdKey, Targets: createdTargets},
	SortUsername: {
		Columns: []string{"lower(username)", "id"},
		Values:  func(u *User) []any { return []any{asciiLower(u.Username), u.ID} },
		Targets: func() []any { return []any{new(string), new(uuid.UUID)} },
	},
}

func createdKey(u *User) []any { return []any{u.CreatedAt, u.ID} }
func createdTargets() []any    { return []any{new(time.Time), new(uuid.UUID)} }

// List implements Repository.
func (s *store) List(ctx context.Context, q ListQuery) (db.Page[User], error) {
	ks, ok := keysets[q.Sort]
	if !ok {
		return db.Page[User]{}, apperr.Invalid("sort %q is not supported", q.Sort)
	}
	// The cursor is bound to everything that shapes the result, so it cannot be replayed
	// against another list, order or filter.
	scope, err := json.Marshal([]string{"users", string(q.Sort), string(q.State),
		asciiLower(q.Q), asciiLower(q.Username), asciiLower(q.Email)})
	if err != nil {
		return db.Page[User]{}, fmt.Errorf("users: list: %w", err)
	}
	var page db.Page[User]
	err = s.db.Read(ctx, func(tx *gorm.DB) error {
		tx = tx.Model(&User{})
		switch q.State {
		case StateDeleted:
			tx = tx.Scopes(db.OnlyDeleted)
		case StateAll:
			tx = tx.Scopes(db.WithDeleted)
		}
		if q.Q != "" {
			// A prefix is a range over the byte-ordered (COLLATE "C") lower(...) indexes.
			lo, hi := prefixRange(asciiLower(q.Q))
			tx = tx.Where("((lower(username) >= ? AND lower(username) < ?) OR (lower(email) >= ? AND lower(email) < ?))", lo, hi, lo, hi)
		}
		if q.Username != "" {
			tx = tx.Where("lower(username) = ?", asciiLower(q.Username))
		}
		if q.Email != "" {
			tx = tx.Where("lower(email) = ?", asciiLower(q.Email))
		}
		var err error
		page, err = ks.Find(tx, s.cursors, string(scope), q.Cursor, q.Limit)
		return err
	})
	if errors.Is(err, db.ErrBadCursor) {
		return db.Page[User]{}, apperr.Invalid("cursor: %v", err)
	}
	if err != nil {
		return db.Page[User]{}, fmt.Errorf("users: list: %w", err)
	}
	return page, nil
}

// Stats implements Repository. The counting happens in SQL; days with no registrations
// appear with 0.
func (s *store) Stats(ctx context.Context, days int) (Stats, error) {
	var st Stats
	err := s.db.Read(ctx, func(tx *gorm.DB) error {
		var counts struct{ Active, Deleted int64 }
		err := tx.Raw(`SELECT count(*) FILTER (WHERE deleted_at IS NULL) AS active,
			count(*) FILTER (WHERE deleted_at IS NOT NULL) AS deleted FROM users`).Scan(&counts).Error
		if err != nil {
			return err
		}
		st.Active, st.Deleted = counts.Active, counts.Deleted
		// Count per day first (one range scan of users_created_at_id_idx), then join the
		// days: joining every day to its users instead made the planner expect 1000 days ×
		// 1/3 of the table and JIT-compile it: 0.7 s per call at 1M users, now ~40 ms.
		return tx.Raw(`
			SELECT to_char(d, 'YYYY-MM-DD') AS date, coalesce(c.count, 0) AS count
			FROM generate_series(
				((now() AT TIME ZONE 'UTC')::date - (?::int - 1))::timestamp,
				(now() AT TIME ZONE 'UTC')::date::timestamp,
				interval '1 day') AS d
			LEFT JOIN (
				SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS count
				FROM users
				WHERE created_at >= ((now() AT TIME ZONE 'UTC')::date - (?::int - 1))::timestamp AT TIME ZONE 'UTC'
					AND created_at < ((now() AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE 'UTC'
				GROUP BY 1
			) c ON c.day = d::date
			ORDER BY d`, days, days).Scan(&st.CreatedPerDay).Error
	})
	if err != nil {
		return Stats{}, fmt.Errorf("users: stats: %w", err)
	}
	return st, nil
}

// asciiLower lowercases A-Z only, exactly as PostgreSQL's lower() does under COLLATE "C".
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// prefixRange returns [lo, hi) holding exactly the strings that start with prefix under
// byte order: hi is prefix with its last rune incremented.
func prefixRange(prefix string) (lo, hi string) {
	runes := []rune(prefix)
	for i := len(runes) - 1; i >= 0; i-- {
		next := runes[i] + 1
		for next <= utf8.MaxRune && !utf8.ValidRune(next) {
			next++ // skip the surrogate range
		}
		if next <= utf8.MaxRune {
			return prefix, string(runes[:i]) + string(next)
		}
	}
	return prefix, prefix // only a prefix of nothing but U+10FFFF gets here; it matches nothing
}
