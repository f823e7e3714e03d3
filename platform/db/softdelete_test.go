package db_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"usersvc/platform/db"
)

// gadget is a soft-deletable model whose deleted-at field has a name of its own, to show
// the helpers find it by type.
type gadget struct {
	ID      int64 `gorm:"primaryKey"`
	Name    string
	Version int
	Removed gorm.DeletedAt `gorm:"column:removed_at"`
}

func gadgets(t *testing.T) {
	t.Helper()
	require.NoError(t, gdb.Migrator().DropTable(&gadget{}))
	require.NoError(t, gdb.AutoMigrate(&gadget{}))
	require.NoError(t, gdb.Create(&[]gadget{{ID: 1, Name: "a", Version: 1}, {ID: 2, Name: "b", Version: 1}, {ID: 3, Name: "c", Version: 1}}).Error)
	require.NoError(t, gdb.Delete(&gadget{}, 2).Error)
}

func names(t *testing.T, tx *gorm.DB) []string {
	t.Helper()
	var out []string
	require.NoError(t, tx.Model(&gadget{}).Order("id").Pluck("name", &out).Error)
	return out
}

func TestSoftDeleteScopes(t *testing.T) {
	gadgets(t)
	assert.Equal(t, []string{"a", "c"}, names(t, gdb), "default queries hide deleted rows")
	assert.Equal(t, []string{"a", "b", "c"}, names(t, gdb.Scopes(db.WithDeleted)))
	assert.Equal(t, []string{"b"}, names(t, gdb.Scopes(db.OnlyDeleted)))
}

func TestRestore(t *testing.T) {
	gadgets(t)
	n, err := db.Restore[gadget](gdb.Where("id = ?", 2), map[string]any{"version": gorm.Expr("version + 1")})
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
	assert.Equal(t, []string{"a", "b", "c"}, names(t, gdb))
	var g gadget
	require.NoError(t, gdb.First(&g, 2).Error)
	assert.Equal(t, 2, g.Version, "extra columns are set in the same UPDATE")

	n, err = db.Restore[gadget](gdb.Where("id = ?", 1), nil)
	require.NoError(t, err)
	assert.EqualValues(t, 0, n, "a live row is not restored")
	n, err = db.Restore[gadget](gdb.Where("id = ?", 99), nil)
	require.NoError(t, err)
	assert.EqualValues(t, 0, n, "a missing row is not restored")
}

func TestHelpersRejectModelsWithoutSoftDelete(t *testing.T) {
	type plain struct{ ID int64 }
	_, err := db.Restore[plain](gdb.Where("id = ?", 1), nil)
	assert.Error(t, err)
	assert.Error(t, gdb.Model(&plain{}).Scopes(db.OnlyDeleted).Find(&[]plain{}).Error)
}
