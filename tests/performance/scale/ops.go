package scale

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"usersvc/modules/users"
	"usersvc/platform/db"
	"usersvc/tests/performance/perfkit"
)

// pageSize is the page of every list call: the API's default limit.
const pageSize = 25

// call is one timed repository call on one table: k numbers the call (it picks the user);
// it returns how long the repository took, then checks the answer (not timed).
type call func(ctx context.Context, k int) (time.Duration, error)

// operation is one row of the table.
type operation struct {
	Key   string  // metric key part: "get_by_id"
	Name  string  // row label
	Bound float64 // largest ÷ smallest median must stay at or below this
	Why   string  // why the bound holds for a good implementation
	// prepare returns the call on d and, when the call differs by table in more than
	// the table (the deep page's depth), a word on how.
	prepare func(ctx context.Context, d *dataset) (c call, detail string, err error)
}

// logBound is the growth allowed to an operation whose cost is flat or logarithmic in the
// table's size. From 10k to 1M rows a B-tree gains one level (3 pages to read instead of 2:
// 1.5× the index work) and the larger table's pages are less often in shared_buffers; the
// call's fixed cost (round trip, GORM, the layers) does not grow at all. A cost that grows
// like √n would be 10× over that range, a linear one 100×: 3× tells them apart with room
// for cache misses and a noisy machine.
const logBound = 3

// operations are the rows, for a run whose largest table has largest users.
func operations(largest int) []operation {
	why := "B-tree descent: logarithmic in the table's size"
	return []operation{
		{Key: "get_by_id", Name: "get by id", Bound: logBound, Why: why + " (primary key)", prepare: getByID},
		{Key: "first_page", Name: "first page (25, by created_at)", Bound: logBound,
			Why: "the first 25 entries of users_created_at_id_idx: one descent, then a fixed number of rows", prepare: firstPage},
		{Key: "deep_page", Name: fmt.Sprintf("keyset page %s rows deep", grouped(largest/2)), Bound: logBound,
			Why:     "one descent of users_created_at_id_idx to the cursor, then 25 rows, whatever the depth",
			prepare: func(ctx context.Context, d *dataset) (call, string, error) { return deepPage(ctx, d, largest/2) }},
		{Key: "prefix_search", Name: "prefix search by username, 100 match", Bound: logBound,
			Why:     "a range of the username and of the email index, each as long as the page: one descent each",
			prepare: func(_ context.Context, d *dataset) (call, string, error) { return prefixSearch(d, 2), "", nil }},
		{Key: "prefix_search_share", Name: "prefix search by username, ~1% match", Bound: logBound,
			Why: "the same, with a prefix shared by about a hundredth of the table (more matches in a larger " +
				"table, as a typed prefix would have): still one descent per index and a page of rows",
			prepare: func(_ context.Context, d *dataset) (call, string, error) {
				n := ShareDigits(d.Users)
				return prefixSearch(d, n), fmt.Sprintf("%s match", grouped(pow10(n))), nil
			}},
		{Key: "stats", Name: "stats (Stats(ctx, 30))", Bound: logBound,
			Why: "counts kept by the writes (or a rollup) read a fixed number of rows; counting the table, or the " +
				"30 days of registrations (about 8% of the seeded table), grows linearly", prepare: stats},
	}
}

// scatter maps the k-th call to a seeded user far from the (k-1)-th, as random keys would be
// (reading neighbours in order would find their pages cached), like suite 06's reads.
func scatter(k int) int { return k * 7919 }

func getByID(_ context.Context, d *dataset) (call, string, error) {
	return func(ctx context.Context, k int) (time.Duration, error) {
		id := perfkit.ID(d.Info.LiveUser(scatter(k)))
		t0 := time.Now()
		u, err := d.repo.Get(ctx, id, false)
		took := time.Since(t0)
		if err == nil && u.ID != id {
			err = fmt.Errorf("asked for %s, got %s", id, u.ID)
		}
		return took, err
	}, "", nil
}

func firstPage(_ context.Context, d *dataset) (call, string, error) {
	q := users.ListQuery{Limit: pageSize, State: users.StateActive, Sort: users.SortCreated}
	return func(ctx context.Context, _ int) (time.Duration, error) {
		t0 := time.Now()
		p, err := d.repo.List(ctx, q)
		took := time.Since(t0)
		if err == nil && len(p.Items) != pageSize {
			err = fmt.Errorf("%d users on the first page", len(p.Items))
		}
		return took, err
	}, "", nil
}

// deepPage reads the page of live users (created_at order) that starts want rows deep, or
// the deepest full page d has, through the cursor the API would have issued for it.
func deepPage(ctx context.Context, d *dataset, want int) (call, string, error) {
	depth := DeepestPage(want, d.Live, pageSize)
	cursor, first, err := cursorAt(ctx, d, depth)
	if err != nil {
		return nil, "", err
	}
	q := users.ListQuery{Limit: pageSize, Cursor: cursor, State: users.StateActive, Sort: users.SortCreated}
	// The cursor is built here, not received from the repository: check once that it leads
	// where a client paging through would have arrived.
	p, err := d.repo.List(ctx, q)
	if err != nil {
		return nil, "", fmt.Errorf("the cursor built for depth %d: %w", depth, err)
	}
	if len(p.Items) == 0 || p.Items[0].ID != first {
		return nil, "", fmt.Errorf("the page after the cursor for depth %d does not start with the row at that depth", depth)
	}
	detail := ""
	if depth != want {
		detail = grouped(depth) + " deep"
	}
	return func(ctx context.Context, _ int) (time.Duration, error) {
		t0 := time.Now()
		p, err := d.repo.List(ctx, q)
		took := time.Since(t0)
		if err == nil && len(p.Items) != pageSize {
			err = fmt.Errorf("%d users on the page %d deep", len(p.Items), depth)
		}
		return took, err
	}, detail, nil
}

// cursorAt returns the cursor of the page of live users in created_at order that starts
// depth rows deep (the depth-th row's key, signed for the scope entity.Store.Page binds an
// unfiltered list of live users to) and the id of that page's first row.
func cursorAt(ctx context.Context, d *dataset, depth int) (string, uuid.UUID, error) {
	rows, err := d.conn.Query(ctx, `SELECT created_at, id FROM users WHERE deleted_at IS NULL
		ORDER BY created_at, id OFFSET $1 LIMIT 2`, depth-1)
	if err != nil {
		return "", uuid.Nil, fmt.Errorf("the row at depth %d: %w", depth, err)
	}
	defer rows.Close()
	var at []time.Time
	var ids []uuid.UUID
	for rows.Next() {
		var t time.Time
		var id uuid.UUID
		if err := rows.Scan(&t, &id); err != nil {
			return "", uuid.Nil, err
		}
		at, ids = append(at, t), append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return "", uuid.Nil, err
	}
	if len(ids) != 2 {
		return "", uuid.Nil, fmt.Errorf("no live user at depth %d", depth)
	}
	// Module, sort, state, then the lower-cased q, username and email filters (none here).
	scope, err := json.Marshal([]string{"users", string(users.SortCreated), string(users.StateActive), "", "", ""})
	if err != nil {
		return "", uuid.Nil, err
	}
	cursors, err := db.NewCursors([]byte(perfkit.CursorSecret))
	if err != nil {
		return "", uuid.Nil, err
	}
	cursor, err := cursors.Encode(string(scope), at[0], ids[0])
	return cursor, ids[1], err
}

// prefixSearch searches, sorted by username, for the username of a scattered seeded user
// without its last digits digits ("user005000" of "user00500042" for 2): a prefix that
// 10^digits seeded users share, but in the last, partly filled block.
func prefixSearch(d *dataset, digits int) call {
	return func(ctx context.Context, k int) (time.Duration, error) {
		name := perfkit.Username(d.Info.LiveUser(scatter(k)))
		prefix := name[:len(name)-digits]
		q := users.ListQuery{Limit: pageSize, Q: prefix, State: users.StateActive, Sort: users.SortUsername}
		t0 := time.Now()
		p, err := d.repo.List(ctx, q)
		took := time.Since(t0)
		if err != nil {
			return took, err
		}
		if len(p.Items) == 0 {
			return took, fmt.Errorf("prefix %q found nobody", prefix)
		}
		for _, u := range p.Items {
			if !strings.HasPrefix(strings.ToLower(u.Username), prefix) && !strings.HasPrefix(strings.ToLower(u.Email), prefix) {
				return took, fmt.Errorf("prefix %q found %s", prefix, u.Username)
			}
		}
		return took, nil
	}
}

// ShareDigits is how many trailing digits of a seeded username to leave out so that the
// prefix is shared by about a hundredth of a table of n users (4 for 1M: "user0050" matches
// 10,000), and at least 1.
func ShareDigits(n int) int {
	digits := 0
	for m := n / 100; m >= 10; m /= 10 {
		digits++
	}
	return max(digits, 1)
}

func pow10(n int) int {
	v := 1
	for range n {
		v *= 10
	}
	return v
}

func stats(_ context.Context, d *dataset) (call, string, error) {
	return func(ctx context.Context, _ int) (time.Duration, error) {
		t0 := time.Now()
		st, err := d.repo.Stats(ctx, 30)
		took := time.Since(t0)
		if err == nil && (len(st.CreatedPerDay) != 30 || st.Active == 0) {
			err = fmt.Errorf("stats of %d days and %d live users", len(st.CreatedPerDay), st.Active)
		}
		return took, err
	}, "", nil
}
