package migrations

import (
	"context"
	"fmt"
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
	exists, err := tablesExist(conn)
	if err != nil || !exists {
		return r.statuses(nil, nil), err
	}
	applied, unknown, err := r.read(conn)
	if err != nil {
		return nil, err
	}
	return r.statuses(applied, unknown), nil
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

func (r *Runner) statuses(applied map[string]time.Time, unknown []string) []Status {
	out := make([]Status, 0, len(r.list)+len(unknown))
	for _, m := range r.list {
		s := Status{ID: m.ID, Known: true}
		if at, ok := applied[m.ID]; ok {
			s.Applied = true
			if !at.IsZero() {
				s.AppliedAt = &at
			}
		}
		out = append(out, s)
	}
	for _, id := range unknown {
		out = append(out, Status{ID: id, Applied: true})
	}
	return out
}

func tablesExist(conn *gorm.DB) (bool, error) {
	var n int
	err := conn.Raw(`SELECT count(*) FROM unnest(ARRAY[?, ?]::text[]) t WHERE to_regclass(t) IS NOT NULL`,
		idsTable, historyTable).Scan(&n).Error
	if err != nil {
		return false, fmt.Errorf("migrations: status: %w", err)
	}
	return n == 2, nil
}

// read returns when each known applied migration was applied (zero time when unrecorded) and
// the applied IDs this binary does not know, in ID order.
func (r *Runner) read(conn *gorm.DB) (map[string]time.Time, []string, error) {
	var rows []struct {
		ID        string
		AppliedAt *time.Time
	}
	err := conn.Raw(`SELECT m.id, h.applied_at FROM ` + idsTable + ` m
		LEFT JOIN ` + historyTable + ` h USING (id) ORDER BY m.id`).Scan(&rows).Error
	if err != nil {
		return nil, nil, fmt.Errorf("migrations: read applied: %w", err)
	}
	known := map[string]bool{}
	for _, m := range r.list {
		known[m.ID] = true
	}
	applied := map[string]time.Time{}
	var unknown []string
	for _, row := range rows {
		switch {
		case !known[row.ID]:
			unknown = append(unknown, row.ID)
		case row.AppliedAt != nil:
			applied[row.ID] = *row.AppliedAt
		default:
			applied[row.ID] = time.Time{}
		}
	}
	return applied, unknown, nil
}
