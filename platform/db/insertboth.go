package db

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	"gorm.io/gorm"
)

// InsertBoth inserts first and then second (a row and its audit row, say) in ONE statement,
// `WITH first AS (INSERT …) INSERT …`, on tx: one round trip instead of two. GORM renders both
// INSERTs exactly as its Create would (a dry run: hooks, defaults, serializers), so only
// their sending is ours. Neither row gets values back from the database (no RETURNING is
// read): both must carry everything they need, as rows with client-made ids do. second is
// checked after first (the constraint of either fails the statement, with its
// *pgconn.PgError intact). Each write cost a round trip of ~70 µs of service CPU on a POST
// (make perf); the transaction around it stays.
func InsertBoth(tx *gorm.DB, first, second any) error {
	dry := tx.Session(&gorm.Session{DryRun: true, SkipDefaultTransaction: true})
	a := dry.Create(first)
	if a.Error != nil {
		return fmt.Errorf("db: insert %T: %w", first, a.Error)
	}
	b := dry.Create(second)
	if b.Error != nil {
		return fmt.Errorf("db: insert %T: %w", second, b.Error)
	}
	q := "WITH first AS (" + a.Statement.SQL.String() + ") " + shiftParams(b.Statement.SQL.String(), len(a.Statement.Vars))
	vars := append(append(make([]any, 0, len(a.Statement.Vars)+len(b.Statement.Vars)), a.Statement.Vars...), b.Statement.Vars...)
	begin := time.Now()
	res, err := tx.Statement.ConnPool.ExecContext(tx.Statement.Context, q, vars...)
	rows := int64(0)
	if err == nil {
		rows, _ = res.RowsAffected()
	}
	sent(tx, begin, q, vars, rows, err)
	return err
}

var param = regexp.MustCompile(`\$(\d+)`)

// shiftParams renumbers the placeholders $1, $2 … of sql by n. GORM binds every value of an
// INSERT, so a `$` followed by digits in its text is always a placeholder.
func shiftParams(sql string, n int) string {
	return param.ReplaceAllStringFunc(sql, func(p string) string {
		k, _ := strconv.Atoi(p[1:])
		return "$" + strconv.Itoa(k+n)
	})
}
