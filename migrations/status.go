package migrations

import (
	"context"
	"fmt"
	"sort"
	"time"

	"gorm.io/gorm"
)

// Status is one migration's state in the database.
type Status struct {
	ID        string
	Applied   bool
	AppliedAt *time.Time // nil when pending, or applied before applied_at was recorded
	Known     bool       // false: applied in the database but not in this binary
}

// Status lists every known migration in order, then any unknown ones the database has
// applied. It reads only: a database never migrated shows everything pending.
func (r *Runner) Status(ctx context.Context) ([]Status, error) {
	conn := r.db.WithContext(ctx)
	hasIDs, hasHistory, err := tablesExist(conn)
	if err != nil || !hasIDs {
		return r.statuses(nil), err
	}
	applied, err := readApplied(conn, hasHistory)
	if err != nil {
		return nil, err
	}
	return r.statuses(applied), nil
}

// Pending counts known migrations not yet applied, for the readiness check.
func (r *Runner) Pending(ctx context.Context) (int, error) {
	st, err := r.Status(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range st {
		if s.Known && !s.Applied {
			n++
		}
	}
	return n, nil
}

// statuses merges the applied IDs (with when, zero if unrecorded) into the known list.
func (r *Runner) statuses(applied map[string]time.Time) []Status {
	out := make([]Status, 0, len(r.list)+len(applied))
	known := map[string]bool{}
	for _, m := range r.list {
		known[m.ID] = true
		out = append(out, status(m.ID, true, applied))
	}
	var unknown []string
	for id := range applied {
		if !known[id] {
			unknown = append(unknown, id)
		}
	}
	sort.Strings(unknown)
	for _, id := range unknown {
		out = append(out, status(id, false, applied))
	}
	return out
}

func status(id string, known bool, applied map[string]time.Time) Status {
	s := Status{ID: id, Known: known}
	if at, ok := applied[id]; ok {
		s.Applied = true
		if !at.IsZero() {
			s.AppliedAt = &at
		}
	}
	return s
}

// tablesExist reports whether gormigrate's table and our history table exist. A database
// migrated by plain gormigrate has only the first; its migrations count as applied.
func tablesExist(conn *gorm.DB) (ids, history bool, err error) {
	err = conn.Raw(`SELECT to_regclass(?) IS NOT NULL, to_regclass(?) IS NOT NULL`, idsTable, historyTable).
		Row().Scan(&ids, &history)
	if err != nil {
		return false, false, fmt.Errorf("migrations: status: %w", err)
	}
	return ids, history, nil
}

// readApplied returns every applied ID, known or not, with when it was applied (zero time
// when unrecorded).
func readApplied(conn *gorm.DB, withHistory bool) (map[string]time.Time, error) {
	query := `SELECT id, NULL::timestamptz AS applied_at FROM ` + idsTable
	if withHistory {
		query = `SELECT m.id, h.applied_at FROM ` + idsTable + ` m LEFT JOIN ` + historyTable + ` h USING (id)`
	}
	var rows []struct {
		ID        string
		AppliedAt *time.Time
	}
	if err := conn.Raw(query).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("migrations: read applied: %w", err)
	}
	applied := make(map[string]time.Time, len(rows))
	for _, row := range rows {
		applied[row.ID] = time.Time{}
		if row.AppliedAt != nil {
			applied[row.ID] = *row.AppliedAt
		}
	}
	return applied, nil
}
