package db_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/platform/db"
)

type item struct {
	ID   int64 `gorm:"primaryKey"`
	Rank int
}

var byRank = db.Keyset[item]{
	Columns: []string{"rank", "id"},
	Values:  func(i *item) []any { return []any{i.Rank, i.ID} },
	Targets: func() []any { return []any{new(int), new(int64)} },
}

func walk(t *testing.T, ks db.Keyset[item], cursors *db.Cursors, limit int) []int64 {
	t.Helper()
	var ids []int64
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 1000, "pagination does not end")
		page, err := ks.Find(gdb.Model(&item{}), cursors, "items", cursor, limit)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Items), limit)
		for _, it := range page.Items {
			ids = append(ids, it.ID)
		}
		if page.Next == "" {
			return ids
		}
		cursor = page.Next
	}
}

func TestKeysetWalksTiesExactlyOnceInBothDirections(t *testing.T) {
	require.NoError(t, gdb.Migrator().DropTable(&item{}))
	require.NoError(t, gdb.AutoMigrate(&item{}))
	var items []item
	for i := 1; i <= 53; i++ {
		items = append(items, item{ID: int64(i), Rank: i % 4}) // many ties on rank
	}
	require.NoError(t, gdb.Create(&items).Error)
	cursors, err := db.NewCursors([]byte("keyset-test-secret"))
	require.NoError(t, err)

	var want []int64
	for rank := 0; rank < 4; rank++ {
		for i := 1; i <= 53; i++ {
			if i%4 == rank {
				want = append(want, int64(i))
			}
		}
	}
	for _, limit := range []int{1, 5, 53, 100} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			assert.Equal(t, want, walk(t, byRank, cursors, limit))
			desc := byRank
			desc.Desc = true
			got := walk(t, desc, cursors, limit)
			for i, j := 0, len(got)-1; i < j; i, j = i+1, j-1 {
				got[i], got[j] = got[j], got[i]
			}
			assert.Equal(t, want, got)
		})
	}
}

func TestKeysetRejectsForeignCursor(t *testing.T) {
	cursors, err := db.NewCursors([]byte("keyset-test-secret"))
	require.NoError(t, err)
	token, err := cursors.Encode("other-list", 1, int64(1))
	require.NoError(t, err)
	_, err = byRank.Find(gdb.Model(&item{}), cursors, "items", token, 10)
	assert.ErrorIs(t, err, db.ErrBadCursor)
}
