package db_test

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"usersvc/platform/db"
)

// gadgetNote is a second table for InsertBoth: a row that refers to a gadget.
type gadgetNote struct {
	ID       int64 `gorm:"primaryKey;autoIncrement"`
	GadgetID int64 `gorm:"not null;uniqueIndex"`
	Text     string
}

// InsertBoth must store both rows in one statement, or neither, keeping the database's
// error for the caller to classify.
func TestInsertBothStoresBothOrNeither(t *testing.T) {
	gadgets(t)
	require.NoError(t, gdb.Migrator().DropTable(&gadgetNote{}))
	require.NoError(t, gdb.AutoMigrate(&gadgetNote{}))

	var sent []string
	stop, err := db.ObserveStatements(gdb, func(sql string, _ []any) { sent = append(sent, sql) })
	require.NoError(t, err)
	defer stop()
	require.NoError(t, gdb.Transaction(func(tx *gorm.DB) error {
		return db.InsertBoth(tx, &gadget{ID: 10, Name: "ten", Version: 1}, &gadgetNote{GadgetID: 10, Text: "made"})
	}))
	var g gadget
	require.NoError(t, gdb.First(&g, 10).Error)
	assert.Equal(t, "ten", g.Name)
	var n gadgetNote
	require.NoError(t, gdb.Where("gadget_id = ?", 10).First(&n).Error)
	assert.Equal(t, "made", n.Text)
	require.Len(t, sent, 1, "one statement")
	assert.Contains(t, sent[0], "WITH first AS (INSERT INTO \"gadgets\"")

	// The second row collides: the first is not stored either, and the error is PostgreSQL's.
	err = gdb.Transaction(func(tx *gorm.DB) error {
		return db.InsertBoth(tx, &gadget{ID: 11, Name: "eleven", Version: 1}, &gadgetNote{GadgetID: 10, Text: "again"})
	})
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "got %v", err)
	assert.Equal(t, "23505", pgErr.Code)
	assert.ErrorIs(t, gdb.Unscoped().First(&gadget{}, 11).Error, gorm.ErrRecordNotFound)
}
