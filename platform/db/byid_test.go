package db_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"usersvc/platform/db"
)

// ByID must read what GORM's First reads, hide deleted rows unless asked, and see the
// uncommitted rows of the transaction it runs in.
func TestByIDReadsLikeGORM(t *testing.T) {
	gadgets(t)
	var byID db.ByID[gadget]
	ctx := context.Background()
	for _, tc := range []struct {
		id             int64
		includeDeleted bool
		found          bool
	}{{1, false, true}, {2, false, false}, {2, true, true}, {99, true, false}} {
		var got gadget
		err := byID.Get(gdb.WithContext(ctx), tc.id, tc.includeDeleted, &got)
		if !tc.found {
			assert.ErrorIs(t, err, gorm.ErrRecordNotFound, "id %d, deleted %v", tc.id, tc.includeDeleted)
			continue
		}
		require.NoError(t, err, "id %d", tc.id)
		var want gadget
		require.NoError(t, gdb.Unscoped().First(&want, tc.id).Error)
		assert.Equal(t, want, got)
	}

	require.NoError(t, gdb.Transaction(func(tx *gorm.DB) error {
		require.NoError(t, tx.Create(&gadget{ID: 7, Name: "new", Version: 1}).Error)
		var got gadget
		require.NoError(t, byID.Get(tx, int64(7), false, &got), "a row written earlier in the same transaction")
		assert.Equal(t, "new", got.Name)
		return nil
	}))

	var seen []string
	var got gadget
	stop, err := db.ObserveStatements(gdb, func(sql string, vars []any) {
		seen = append(seen, sql)
		assert.Equal(t, []any{int64(1)}, vars)
	})
	require.NoError(t, err)
	defer stop()
	require.NoError(t, byID.Get(gdb.WithContext(ctx), int64(1), false, &got))
	assert.Equal(t, []string{`SELECT "id", "name", "version", "removed_at" FROM "gadgets" WHERE "id" = $1 AND "removed_at" IS NULL`}, seen,
		"named columns (not *), the deleted-at column found by type, reported to an observer")
}
