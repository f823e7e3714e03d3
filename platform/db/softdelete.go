package db

import (
	"fmt"
	"reflect"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// GORM hides rows whose gorm.DeletedAt is set from every query; these helpers are the explicit
// ways around that. Raw SQL and string Joins are not covered by GORM's soft delete: modules
// must add the deleted_at condition themselves there.

// WithDeleted is a scope that returns live and soft-deleted rows.
func WithDeleted(tx *gorm.DB) *gorm.DB { return tx.Unscoped() }

// OnlyDeleted is a scope that returns soft-deleted rows only.
func OnlyDeleted(tx *gorm.DB) *gorm.DB {
	col, err := deletedAtColumn(tx)
	if err != nil {
		_ = tx.AddError(err)
		return tx
	}
	return tx.Unscoped().Where(clause.Expr{SQL: "? IS NOT NULL", Vars: []any{col}})
}

// Restore clears the soft delete of the T rows that tx's conditions select and that are
// deleted now, setting also as well (e.g. a version bump) in the same UPDATE. It returns the
// number of rows restored: 0 means none matched or none was deleted. GORM has no restore API.
func Restore[T any](tx *gorm.DB, also map[string]any) (int64, error) {
	tx = tx.Model(new(T))
	col, err := deletedAtColumn(tx)
	if err != nil {
		return 0, err
	}
	set := map[string]any{col.Name: nil}
	for k, v := range also {
		set[k] = v
	}
	res := tx.Unscoped().Where(clause.Expr{SQL: "? IS NOT NULL", Vars: []any{col}}).UpdateColumns(set)
	if res.Error != nil {
		return 0, fmt.Errorf("db: restore %T: %w", *new(T), res.Error)
	}
	return res.RowsAffected, nil
}

var deletedAtType = reflect.TypeOf(gorm.DeletedAt{})

// deletedAtColumn finds the model's gorm.DeletedAt column, so the helpers work for any
// soft-deletable model whatever it names the field.
func deletedAtColumn(tx *gorm.DB) (clause.Column, error) {
	stmt := tx.Statement
	model := stmt.Model
	if model == nil {
		model = stmt.Dest
	}
	if model == nil {
		return clause.Column{}, fmt.Errorf("db: soft delete helper needs a model (use Model(&T{}))")
	}
	if err := stmt.Parse(model); err != nil {
		return clause.Column{}, fmt.Errorf("db: soft delete helper: %w", err)
	}
	for _, f := range stmt.Schema.Fields {
		if f.FieldType == deletedAtType {
			return clause.Column{Table: clause.CurrentTable, Name: f.DBName}, nil
		}
	}
	return clause.Column{}, fmt.Errorf("db: %s has no gorm.DeletedAt field: %w", stmt.Schema.Name, schema.ErrUnsupportedDataType)
}
