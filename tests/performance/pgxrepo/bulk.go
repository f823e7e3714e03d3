package pgxrepo

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"usersvc/modules/users"
)

// Bulk inserts store users rows only (no events), with the INSERT's column list; they return
// the number of rows written.

// InsertOneByOne stores each user with its own autocommit INSERT: one commit per user.
func (r *Repo) InsertOneByOne(ctx context.Context, us []users.User) (int64, error) {
	var n int64
	for i := range us {
		tag, err := r.pool.Exec(ctx, SQLInsertUser, userArgs(&us[i])...)
		if err != nil {
			return n, fmt.Errorf("pgxrepo: insert %d: %w", i, err)
		}
		n += tag.RowsAffected()
	}
	return n, nil
}

// InsertInOneTx stores the users with one INSERT each inside one transaction: one commit.
func (r *Repo) InsertInOneTx(ctx context.Context, us []users.User) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		n = 0
		for i := range us {
			tag, err := tx.Exec(ctx, SQLInsertUser, userArgs(&us[i])...)
			if err != nil {
				return fmt.Errorf("insert %d: %w", i, err)
			}
			n += tag.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("pgxrepo: insert in one transaction: %w", err)
	}
	return n, nil
}

// MaxRowsPerInsert keeps a multi-row INSERT under PostgreSQL's 65535 bind parameters.
var MaxRowsPerInsert = maxParams / len(userColumns)

// InsertMultiRow stores the users with multi-row INSERTs (as GORM renders them, of up to
// MaxRowsPerInsert rows each), all in one transaction.
func (r *Repo) InsertMultiRow(ctx context.Context, us []users.User) (int64, error) {
	return r.insertMultiRow(ctx, us, MaxRowsPerInsert)
}

func (r *Repo) insertMultiRow(ctx context.Context, us []users.User, perStatement int) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		n = 0
		for from := 0; from < len(us); from += perStatement {
			chunk := us[from:min(from+perStatement, len(us))]
			args := make([]any, 0, len(chunk)*len(userColumns))
			for i := range chunk {
				args = append(args, userArgs(&chunk[i])...)
			}
			tag, err := tx.Exec(ctx, multiRowInsert(len(chunk)), args...)
			if err != nil {
				return fmt.Errorf("rows %d..: %w", from, err)
			}
			n += tag.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("pgxrepo: multi-row insert: %w", err)
	}
	return n, nil
}

// multiRowInsert is SQLInsertUser with rows value lists: "VALUES ($1,…,$8),($9,…,$16)…".
func multiRowInsert(rows int) string {
	var b strings.Builder
	head, _, _ := strings.Cut(SQLInsertUser, " VALUES ")
	b.WriteString(head)
	b.WriteString(" VALUES ")
	p := 1
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j := range userColumns {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(p))
			p++
		}
		b.WriteByte(')')
	}
	return b.String()
}

// CopyFrom stores the users with one COPY (pgx CopyFrom, binary format).
func (r *Repo) CopyFrom(ctx context.Context, us []users.User) (int64, error) {
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == len(us) {
			return nil, nil
		}
		i++
		return userArgs(&us[i-1]), nil
	})
	n, err := r.pool.CopyFrom(ctx, pgx.Identifier{"users"}, userColumns, src)
	if err != nil {
		return n, fmt.Errorf("pgxrepo: copy: %w", err)
	}
	return n, nil
}
