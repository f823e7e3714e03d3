package users

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"usersvc/platform/apperr"
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

// List implements Repository. A prefix search in username order has a plan of its own
// (searchByName); every other list is one filtered keyset query. An exact email is looked up
// in its normal form, as stored (a Unicode domain finds its punycode), ASCII
// case-insensitively; one that has no normal form is looked up as given (it finds nothing
// stored since).
func (s *store) List(ctx context.Context, q ListQuery) (db.Page[User], error) {
	if email, err := normalizeEmail(q.Email); err == nil {
		q.Email = email
	}
	if q.Q != "" && q.Sort == SortUsername {
		return s.searchByName(ctx, q)
	}
	l := entity.List{Limit: q.Limit, Cursor: q.Cursor, State: q.State, Sort: string(q.Sort)}
	return s.Page(ctx, l, keysets, listScope(q), func(tx *gorm.DB) *gorm.DB {
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

// listScope is what, beside the order and state, a list's cursor is bound to: its filters.
func listScope(q ListQuery) []string {
	return []string{db.ASCIILower(q.Q), db.ASCIILower(q.Username), db.ASCIILower(q.Email)}
}

// searchByName is List for q sorted by username, one keyset page. "username OR email starts
// with q" in one WHERE leaves PostgreSQL two plans, both bad on a large table: walk the
// username index from its start filtering on email (hundreds of ms at 1M users when the
// matches lie far into the index), or read every match and sort. Instead the matches are
// split into three sets that never share a user, each read with its own index, each cut to
// the page after the cursor, and merged (searchByNameSQL):
//
//   - the username range, read in index order (it stops after a page);
//   - users outside it whose email matches and does not start with their own username:
//     users_email_lower_other_idx holds exactly those emails (index-only), sorted; the range
//     is written with ~>=~ and ~<~ (byte order, as >= and < are on these COLLATE "C"
//     columns), which only that index (text_pattern_ops) answers, so the planner cannot
//     prefer an email index that holds every user;
//   - users whose email matches and starts with their own username, while that username is
//     not in the range: the username is then a proper prefix of q (both start the email),
//     so an exact lookup of each of q's prefixes finds them.
//
// The cost is the page plus the second set, which is small where emails start with
// usernames; it never walks the whole username index. The cursor is bound to the same
// scope as List's.
func (s *store) searchByName(ctx context.Context, q ListQuery) (db.Page[User], error) {
	if q.Limit < 1 {
		return db.Page[User]{}, fmt.Errorf("users: list: limit must be positive, got %d", q.Limit)
	}
	ks := keysets[string(SortUsername)]
	bound, err := json.Marshal(append([]string{"users", string(q.Sort), string(q.State)}, listScope(q)...))
	if err != nil {
		return db.Page[User]{}, fmt.Errorf("users: list: %w", err)
	}
	var after []any
	if q.Cursor != "" {
		after = ks.Targets()
		if err := s.cursors.Decode(string(bound), q.Cursor, after...); err != nil {
			return db.Page[User]{}, apperr.Invalid("cursor: %v", err)
		}
	}
	sql, args := searchByNameSQL(q, after, q.Limit+1)
	var rows []User
	if err := s.db.Read(ctx, func(tx *gorm.DB) error { return tx.Raw(sql, args...).Scan(&rows).Error }); err != nil {
		return db.Page[User]{}, fmt.Errorf("users: list: %w", err)
	}
	page := db.Page[User]{Items: rows}
	if len(rows) > q.Limit {
		page.Items = rows[:q.Limit]
		if page.Next, err = s.cursors.Encode(string(bound), ks.Values(&page.Items[q.Limit-1])...); err != nil {
			return db.Page[User]{}, fmt.Errorf("users: list: %w", err)
		}
	}
	return page, nil
}

// searchByNameSQL is the statement of searchByName: the three sets (see there), each with the
// state, the exact filters and the cursor, each limited to limit in (lower(username), id)
// order; then the first limit of their union, read whole. The second and third sets are
// fenced (OFFSET 0) so that they are read and sorted, never found by walking the username
// index with a filter: the planner would expect matches spread evenly over it, and they are
// not. The SQL text depends only on which filters are set (pgxrepo sends it too).
func searchByNameSQL(q ListQuery, after []any, limit int) (string, []any) {
	lo, hi := db.PrefixRange(db.ASCIILower(q.Q))
	var where strings.Builder
	var extra []any
	switch q.State {
	case StateDeleted:
		where.WriteString(" AND deleted_at IS NOT NULL")
	case StateAll:
	default:
		where.WriteString(" AND deleted_at IS NULL")
	}
	if q.Username != "" {
		where.WriteString(" AND lower(username) = ?")
		extra = append(extra, db.ASCIILower(q.Username))
	}
	if q.Email != "" {
		where.WriteString(" AND lower(email) = ?")
		extra = append(extra, db.ASCIILower(q.Email))
	}
	if after != nil {
		where.WriteString(" AND (lower(username), id) > (?, ?)")
		extra = append(extra, after...)
	}
	w := where.String()
	sql := `SELECT * FROM users WHERE id = ANY (ARRAY(SELECT id FROM (` +
		`(SELECT id, lower(username) AS name FROM users WHERE lower(username) >= ? AND lower(username) < ?` + w +
		` ORDER BY lower(username), id LIMIT ?)` +
		` UNION ALL (SELECT id, name FROM (SELECT id, lower(username) AS name FROM users` +
		` WHERE lower(email) ~>=~ ? AND lower(email) ~<~ ? AND NOT starts_with(lower(email), lower(username))` +
		` AND NOT (lower(username) >= ? AND lower(username) < ?)` + w + ` OFFSET 0) AS other ORDER BY name, id LIMIT ?)` +
		` UNION ALL (SELECT id, name FROM (SELECT id, lower(username) AS name FROM users` +
		` WHERE lower(username) = ANY (ARRAY(SELECT left(?::text, n) FROM generate_series(1, length(?::text) - 1) AS n))` +
		` AND lower(email) >= ? AND lower(email) < ?` + w + ` OFFSET 0) AS shorter ORDER BY name, id LIMIT ?)` +
		`) AS found ORDER BY name, id LIMIT ?)) ORDER BY lower(username), id`
	args := make([]any, 0, 16+3*len(extra))
	args = append(append(append(args, lo, hi), extra...), limit)
	args = append(append(append(args, lo, hi, lo, hi), extra...), limit)
	args = append(append(append(args, lo, lo, lo, hi), extra...), limit)
	return sql, append(args, limit)
}

// Stats implements Repository. It reads the counters that triggers on users keep in the
// transaction of every change (migrations 202611281301_count_users and
// 202611281302_count_registrations_in_slots): 16 shard rows for the totals, and for each day
// up to 16 rows of user_day_counts plus the shards' slots holding that day, whatever the size
// of the table. Each figure is exact for its statement's snapshot; days with no
// registrations appear with 0. The window ends on the database's UTC date, read with the
// totals.
func (s *store) Stats(ctx context.Context, days int) (Stats, error) {
	var st Stats
	err := s.db.Read(ctx, func(tx *gorm.DB) error {
		var totals struct {
			Active, Deleted int64
			Today           time.Time
		}
		err := tx.Model(&userCount{}).Select(statsTotals).Scan(&totals).Error
		if err != nil {
			return err
		}
		first := totals.Today.AddDate(0, 0, 1-days)
		var counted []userDayCount
		err = tx.Raw(statsPerDay, first, totals.Today, first, totals.Today).Scan(&counted).Error
		if err != nil {
			return err
		}
		st = Stats{Active: totals.Active, Deleted: totals.Deleted, CreatedPerDay: daysFrom(first, days, counted)}
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("users: stats: %w", err)
	}
	return st, nil
}

// statsTotals sums the shards of user_counts and reads the database's UTC date.
const statsTotals = "coalesce(sum(live), 0)::bigint AS active, coalesce(sum(deleted), 0)::bigint AS deleted, " +
	"(now() AT TIME ZONE 'UTC')::date AS today"

// statsPerDay counts the registrations of each day from first to last: its user_day_counts
// rows and the slots of user_counts holding it.
const statsPerDay = `SELECT day, sum(created)::bigint AS created FROM (` +
	`SELECT day, created FROM user_day_counts WHERE day >= ? AND day <= ? ` +
	`UNION ALL SELECT day, day_created FROM user_counts WHERE day >= ? AND day <= ?` +
	`) AS counted GROUP BY day`

// daysFrom lists n days from first with their registrations in counted (0 when absent).
func daysFrom(first time.Time, n int, counted []userDayCount) []DayCount {
	byDay := make(map[string]int64, len(counted))
	for _, c := range counted {
		byDay[c.Day.Format(time.DateOnly)] = c.Created
	}
	out := make([]DayCount, max(n, 0))
	for i := range out {
		date := first.AddDate(0, 0, i).Format(time.DateOnly)
		out[i] = DayCount{Date: date, Count: byDay[date]}
	}
	return out
}

// userCount and userDayCount are the stats' counters (user_counts, user_day_counts), for the
// schema drift test and the table ownership check; only the triggers on users write them.
type userCount struct {
	Shard   int16 `gorm:"type:smallint;primaryKey;autoIncrement:false"`
	Live    int64 `gorm:"type:bigint;not null;default:0"`
	Deleted int64 `gorm:"type:bigint;not null;default:0"`
	// Day and DayCreated are the shard's slot: registrations of one day not yet moved to
	// user_day_counts.
	Day        *time.Time `gorm:"type:date"`
	DayCreated int64      `gorm:"type:bigint;not null;default:0"`
}

type userDayCount struct {
	Day     time.Time `gorm:"type:date;primaryKey"`
	Shard   int16     `gorm:"type:smallint;primaryKey;autoIncrement:false"`
	Created int64     `gorm:"type:bigint;not null;default:0"`
}
