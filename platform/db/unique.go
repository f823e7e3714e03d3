package db

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// UniqueViolation names the field a unique violation (23505) is about, looked up by the index
// that refused the row in fields (index name → field); "" for any other error.
func UniqueViolation(err error, fields map[string]string) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fields[pgErr.ConstraintName]
	}
	return ""
}
