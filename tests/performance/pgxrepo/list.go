package pgxrepo

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"usersvc/modules/users"
	"usersvc/platform/db"
)

// Key is a position in the created_at keyset order: the last row of a page.
type Key struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// Page is a page of live users in created_at order and the key after which the next one
// starts (nil on the last page). Like the repository's keyset, it asks for limit+1 rows to
// know whether there is a next page.
type Page struct {
	Items []users.User
	Next  *Key
}

func (r *Repo) page(ctx context.Context, limit int, sql string, args ...any) (Page, error) {
	if limit < 1 {
		return Page{}, fmt.Errorf("pgxrepo: limit must be positive, got %d", limit)
	}
	rows, err := r.pool.Query(ctx, sql, append(args, limit+1)...)
	if err != nil {
		return Page{}, fmt.Errorf("pgxrepo: list: %w", err)
	}
	items, err := pgx.CollectRows(rows, scanUser)
	if err != nil {
		return Page{}, fmt.Errorf("pgxrepo: list: %w", err)
	}
	p := Page{Items: items}
	if len(items) > limit {
		p.Items = items[:limit]
		last := p.Items[limit-1]
		p.Next = &Key{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	return p, nil
}

// GetByUsername returns the live users whose username equals username ignoring ASCII case
// (at most one: the unique index), as a page of up to limit.
func (r *Repo) GetByUsername(ctx context.Context, username string, limit int) (Page, error) {
	return r.page(ctx, limit, SQLByUsername, db.ASCIILower(username))
}

// GetByEmail is GetByUsername for the email.
func (r *Repo) GetByEmail(ctx context.Context, email string, limit int) (Page, error) {
	return r.page(ctx, limit, SQLByEmail, db.ASCIILower(email))
}

// PrefixSearch returns live users whose username or email starts with prefix, ignoring ASCII
// case: a range over the byte-ordered lower(...) indexes.
func (r *Repo) PrefixSearch(ctx context.Context, prefix string, limit int) (Page, error) {
	lo, hi := db.PrefixRange(db.ASCIILower(prefix))
	return r.page(ctx, limit, SQLPrefix, lo, hi, lo, hi)
}

// NameKey is a position in the username keyset order: the last row of a page.
type NameKey struct {
	Name string // lower(username)
	ID   uuid.UUID
}

// PrefixByName returns the page after key (nil: the first) of live users whose username or
// email starts with prefix, ignoring ASCII case, in username order, and the key of the next
// page (nil on the last). Like the repository it asks for limit+1 rows.
func (r *Repo) PrefixByName(ctx context.Context, prefix string, after *NameKey, limit int) ([]users.User, *NameKey, error) {
	if limit < 1 {
		return nil, nil, fmt.Errorf("pgxrepo: limit must be positive, got %d", limit)
	}
	lo, hi := db.PrefixRange(db.ASCIILower(prefix))
	sql, args := SQLPrefixByName, []any{lo, hi, limit + 1, lo, hi, lo, hi, limit + 1, lo, lo, lo, hi, limit + 1, limit + 1}
	if after != nil {
		sql, args = SQLPrefixByNameNext, []any{lo, hi, after.Name, after.ID, limit + 1,
			lo, hi, lo, hi, after.Name, after.ID, limit + 1, lo, lo, lo, hi, after.Name, after.ID, limit + 1, limit + 1}
	}
	rows, err := r.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("pgxrepo: prefix by name: %w", err)
	}
	items, err := pgx.CollectRows(rows, scanUser)
	if err != nil {
		return nil, nil, fmt.Errorf("pgxrepo: prefix by name: %w", err)
	}
	if len(items) <= limit {
		return items, nil, nil
	}
	last := items[limit-1]
	return items[:limit], &NameKey{Name: db.ASCIILower(last.Username), ID: last.ID}, nil
}

// ListPage returns the page of live users after key (nil: the first page), created_at order.
func (r *Repo) ListPage(ctx context.Context, after *Key, limit int) (Page, error) {
	if after == nil {
		return r.page(ctx, limit, SQLFirstPage)
	}
	return r.page(ctx, limit, SQLNextPage, after.CreatedAt, after.ID)
}

// OffsetPage returns limit live users after skipping offset of them, created_at order.
func (r *Repo) OffsetPage(ctx context.Context, offset, limit int) ([]users.User, error) {
	rows, err := r.pool.Query(ctx, SQLOffsetPage, limit, offset)
	if err != nil {
		return nil, fmt.Errorf("pgxrepo: offset page: %w", err)
	}
	items, err := pgx.CollectRows(rows, scanUser)
	if err != nil {
		return nil, fmt.Errorf("pgxrepo: offset page: %w", err)
	}
	return items, nil
}

// Events returns up to limit of a user's events newest first, older than beforeID (0: from
// the newest), and whether there are more. Like the repository it first checks that the user
// exists (ErrNotFound), outside a transaction.
func (r *Repo) Events(ctx context.Context, id uuid.UUID, beforeID int64, limit int) ([]users.Event, bool, error) {
	var n int64
	if err := r.pool.QueryRow(ctx, SQLUserExists, id).Scan(&n); err != nil {
		return nil, false, fmt.Errorf("pgxrepo: events: %w", err)
	}
	if n == 0 {
		return nil, false, ErrNotFound
	}
	var rows pgx.Rows
	var err error
	if beforeID == 0 {
		rows, err = r.pool.Query(ctx, SQLEvents, id, limit+1)
	} else {
		rows, err = r.pool.Query(ctx, SQLEventsNext, id, beforeID, limit+1)
	}
	if err != nil {
		return nil, false, fmt.Errorf("pgxrepo: events: %w", err)
	}
	events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (users.Event, error) {
		var e users.Event
		err := row.Scan(&e.ID, &e.UserID, &e.Action, &e.Changes, &e.At, &e.Actor)
		return e, err
	})
	if err != nil {
		return nil, false, fmt.Errorf("pgxrepo: events: %w", err)
	}
	if len(events) > limit {
		return events[:limit], true, nil
	}
	return events, false, nil
}

// Stats counts live and deleted users and registrations per UTC day over the last days, from
// the counters the triggers on users keep: the totals and today's date, then the window.
func (r *Repo) Stats(ctx context.Context, days int) (users.Stats, error) {
	var st users.Stats
	var today time.Time
	if err := r.pool.QueryRow(ctx, SQLStatsCounts).Scan(&st.Active, &st.Deleted, &today); err != nil {
		return users.Stats{}, fmt.Errorf("pgxrepo: stats: %w", err)
	}
	first := today.AddDate(0, 0, 1-days)
	rows, err := r.pool.Query(ctx, SQLStatsPerDay, first, today, first, today)
	if err != nil {
		return users.Stats{}, fmt.Errorf("pgxrepo: stats: %w", err)
	}
	byDay := map[string]int64{}
	var day time.Time
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&day, &n}, func() error {
		byDay[day.Format(time.DateOnly)] = n
		return nil
	})
	if err != nil {
		return users.Stats{}, fmt.Errorf("pgxrepo: stats: %w", err)
	}
	st.CreatedPerDay = make([]users.DayCount, max(days, 0))
	for i := range st.CreatedPerDay {
		date := first.AddDate(0, 0, i).Format(time.DateOnly)
		st.CreatedPerDay[i] = users.DayCount{Date: date, Count: byDay[date]}
	}
	return st, nil
}
