package users

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"usersvc/platform/db"
	"usersvc/platform/entity"
)

// keysets are the only orders a list can have; each ends in the unique id and matches an
// index from the migrations.
var keysets = func() map[string]db.Keyset[User] {
	asc, desc := entity.CreatedKeysets(func(u *User) time.Time { return u.CreatedAt }, func(u *User) uuid.UUID { return u.ID })
	return map[string]db.Keyset[User]{
		string(SortCreated): asc, string(SortCreatedDesc): desc,
		string(SortUsername): entity.NameKeyset("username", func(u *User) string { return u.Username },
			func(u *User) uuid.UUID { return u.ID }),
	}
}()

// List implements Repository.
func (s *store) List(ctx context.Context, q ListQuery) (db.Page[User], error) {
	l := entity.List{Limit: q.Limit, Cursor: q.Cursor, State: q.State, Sort: string(q.Sort)}
	scope := []string{db.ASCIILower(q.Q), db.ASCIILower(q.Username), db.ASCIILower(q.Email)}
	return s.Page(ctx, l, keysets, scope, func(tx *gorm.DB) *gorm.DB {
		if q.Q != "" {
			// A prefix is a range over the byte-ordered (COLLATE "C") lower(...) indexes.
			lo, hi := db.PrefixRange(db.ASCIILower(q.Q))
			tx = tx.Where("((lower(username) >= ? AND lower(username) < ?) OR (lower(email) >= ? AND lower(email) < ?))", lo, hi, lo, hi)
		}
		if q.Username != "" {
			tx = tx.Where("lower(username) = ?", db.ASCIILower(q.Username))
		}
		if q.Email != "" {
			tx = tx.Where("lower(email) = ?", db.ASCIILower(q.Email))
		}
		return tx
	})
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
