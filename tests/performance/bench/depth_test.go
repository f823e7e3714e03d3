package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"usersvc/modules/users"
)

// depthPage is the page size of the depth curve.
const depthPage = 25

// BenchmarkDepth is suite 3's depth curve. One op is one 25-row page of live users in
// created_at order that starts depth rows deep:
//
//   - keyset: the repository's List with a cursor naming the depth-th row (built here, as the
//     API would have issued it) — an index range scan whatever the depth
//   - offset: plain GORM .Offset(depth).Limit(25) on the same order — PostgreSQL walks and
//     throws away depth rows first
//
// Depths beyond the live rows are skipped.
func BenchmarkDepth(b *testing.B) {
	f := env(b)
	f.settle(b)
	for _, mode := range []string{"keyset", "offset"} {
		for _, depth := range f.depths {
			b.Run(fmt.Sprintf("mode=%s/depth=%d", mode, depth), func(b *testing.B) {
				if depth+depthPage > f.live {
					b.Skipf("depth %d: the table has %d live users", depth, f.live)
				}
				if mode == "offset" {
					parallel(b, f, func(ctx context.Context, _ int) error {
						var page []users.User
						err := f.gdb.WithContext(ctx).Order("created_at ASC, id ASC").Offset(depth).Limit(depthPage).Find(&page).Error
						return rowsBetween(len(page), err, depthPage, depthPage)
					})
					return
				}
				cursor, err := f.cursorAt(context.Background(), depth)
				if err != nil {
					b.Fatal(err)
				}
				q := users.ListQuery{Limit: depthPage, Cursor: cursor, State: users.StateActive, Sort: users.SortCreated}
				parallel(b, f, func(ctx context.Context, _ int) error {
					p, err := f.repo.List(ctx, q)
					return rowsBetween(len(p.Items), err, depthPage, depthPage)
				})
			})
		}
	}
}

// cursorAt returns the cursor of the page of live users (created_at order, no filter) that
// starts after the first depth rows: the depth-th row's key, signed for the scope
// store_list.go binds such a list's cursors to. "" for depth 0 (the first page).
func (f *fixture) cursorAt(ctx context.Context, depth int) (string, error) {
	if depth == 0 {
		return "", nil
	}
	rows, err := f.pgx.OffsetPage(ctx, depth-1, 1)
	if err != nil {
		return "", err
	}
	if len(rows) != 1 {
		return "", fmt.Errorf("no live user at depth %d", depth)
	}
	// Sort, state, then the lower-cased q, username and email filters (none here).
	scope, err := json.Marshal([]string{"users", string(users.SortCreated), string(users.StateActive), "", "", ""})
	if err != nil {
		return "", err
	}
	return f.cursors.Encode(string(scope), rows[0].CreatedAt, rows[0].ID)
}
