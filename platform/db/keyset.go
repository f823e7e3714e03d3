package db

import (
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// Keyset pages through T ordered by Columns, all ascending or all descending. The last column
// must make the order total (a unique id), so a page boundary is one exact row: pages never
// skip or repeat rows, also while rows are inserted, and a deep page costs what the first does
// (unlike OFFSET).
type Keyset[T any] struct {
	// Columns are SQL expressions written by the module (never request text): they go into
	// WHERE and ORDER BY as they are.
	Columns []string
	Desc    bool
	// Values returns row's values for Columns, to put in the next cursor.
	Values func(row *T) []any
	// Targets returns fresh pointers, one per column, to decode a cursor into.
	Targets func() []any
}

// Page is one page of rows and the cursor of the next one ("" on the last page).
type Page[T any] struct {
	Items []T
	Next  string
}

// Find runs tx (already filtered) for the page after cursor ("" for the first). scope names
// the list and its filters; a cursor from another scope is ErrBadCursor.
func (k Keyset[T]) Find(tx *gorm.DB, cursors *Cursors, scope, cursor string, limit int) (Page[T], error) {
	if limit < 1 {
		return Page[T]{}, fmt.Errorf("db: keyset limit must be positive, got %d", limit)
	}
	if cursor != "" {
		after := k.Targets()
		if err := cursors.Decode(scope, cursor, after...); err != nil {
			return Page[T]{}, err
		}
		tx = tx.Where(k.after(), after...)
	}
	var rows []T
	if err := tx.Order(k.orderBy()).Limit(limit + 1).Find(&rows).Error; err != nil {
		return Page[T]{}, fmt.Errorf("db: keyset page: %w", err)
	}
	page := Page[T]{Items: rows}
	if len(rows) > limit {
		page.Items = rows[:limit]
		next, err := cursors.Encode(scope, k.Values(&page.Items[limit-1])...)
		if err != nil {
			return Page[T]{}, err
		}
		page.Next = next
	}
	return page, nil
}

// after is the row-value comparison "(a, b) > (?, ?)", which PostgreSQL answers with one
// index range scan on an index over (a, b).
func (k Keyset[T]) after() string {
	op := ">"
	if k.Desc {
		op = "<"
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(k.Columns)), ", ")
	return fmt.Sprintf("(%s) %s (%s)", strings.Join(k.Columns, ", "), op, marks)
}

func (k Keyset[T]) orderBy() string {
	dir := " ASC"
	if k.Desc {
		dir = " DESC"
	}
	return strings.Join(k.Columns, dir+", ") + dir
}
