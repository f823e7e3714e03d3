package bench

import (
	"context"
	"fmt"
	"testing"

	"gorm.io/gorm"

	"usersvc/platform/db"
	"usersvc/tests/performance/perfkit"
)

// statsDays is the window GET /users/stats reports (statsDays in modules/users/handlers.go).
const statsDays = 30

// BenchmarkQuery is suite 5. One op is one repository call, sequential, inside one
// transaction that the repository joins (db.WithTx) and that is rolled back at the end:
//
//   - events: a seeded live user's newest 25 events (the user check, then the keyset page;
//     index user_events_user_id_id_idx)
//   - stats: Stats(30 days): live/deleted counts and registrations per day, read from the
//     counter tables the users triggers keep (16 rows, plus 16 per day): no index to drop
//
// index=without drops the query's index inside that transaction first, so the shared
// database is unchanged afterwards (the DROP holds an exclusive lock on the table until the
// rollback). index=with runs in the same kind of transaction, so the two differ only by the
// index. The transaction lifts statement_timeout: without its index a query may take seconds.
func BenchmarkQuery(b *testing.B) {
	f := env(b)
	f.settle(b)
	queries := []struct {
		name, index string
		run         func(ctx context.Context, k int) error
	}{
		{"events", "user_events_user_id_id_idx", func(ctx context.Context, k int) error {
			p, err := f.repo.Events(ctx, perfkit.ID(f.liveUser(k)), "", lookupLimit)
			return rowsBetween(len(p.Items), err, min(1, f.info.EventsPerUser), lookupLimit)
		}},
		{"stats", "", func(ctx context.Context, _ int) error {
			st, err := f.repo.Stats(ctx, statsDays)
			if err == nil && (len(st.CreatedPerDay) != statsDays || st.Active == 0) {
				err = fmt.Errorf("stats: %d days, %d active users", len(st.CreatedPerDay), st.Active)
			}
			return err
		}},
	}
	for _, q := range queries {
		for _, index := range []string{"with", "without"} {
			if index == "without" && q.index == "" {
				continue
			}
			b.Run(fmt.Sprintf("q=%s/index=%s", q.name, index), func(b *testing.B) {
				ctx := context.Background()
				tx := f.gdb.WithContext(ctx).Begin()
				if tx.Error != nil {
					b.Fatal(tx.Error)
				}
				defer tx.Rollback()
				mustExec(b, tx, "SET LOCAL statement_timeout = 0")
				if index == "without" {
					mustExec(b, tx, "DROP INDEX "+q.index)
				}
				ctx = db.WithTx(ctx, tx)
				b.ReportAllocs()
				b.ResetTimer()
				for k := range b.N {
					if err := q.run(ctx, k); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
			})
		}
	}
}

func mustExec(b *testing.B, tx *gorm.DB, sql string) {
	b.Helper()
	if err := tx.Exec(sql).Error; err != nil {
		b.Fatalf("%s: %v", sql, err)
	}
}
