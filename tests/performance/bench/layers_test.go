package bench

import (
	"context"
	"fmt"
	"testing"

	"gorm.io/gorm"

	"usersvc/modules/users"
	"usersvc/tests/performance/perfkit"
)

// BenchmarkLayers prices each layer between a caller and PostgreSQL for one get by id (the
// same statement each time), at the pool-size concurrency of the other benchmarks:
//
//   - pgx: the raw pgxpool baseline
//   - gorm: plain GORM on the app's pool (database/sql, pgx stdlib, GORM's statement building
//     and scanning)
//   - repository: the users repository, i.e. GORM inside db.Runner (deadline, breaker, retry,
//     metrics)
func BenchmarkLayers(b *testing.B) {
	f := env(b)
	prepared := f.gdb.Session(&gorm.Session{PrepareStmt: true})
	layers := []struct {
		name string
		get  func(ctx context.Context, i int) error
	}{
		{"pgx", func(ctx context.Context, i int) error {
			_, err := f.pgx.Get(ctx, perfkit.ID(i), false)
			return err
		}},
		{"gorm", func(ctx context.Context, i int) error {
			var u users.User
			return f.gdb.WithContext(ctx).Where("id = ?", perfkit.ID(i)).Take(&u).Error
		}},
		{"gorm-prepared", func(ctx context.Context, i int) error {
			var u users.User
			return prepared.WithContext(ctx).Where("id = ?", perfkit.ID(i)).Take(&u).Error
		}},
		{"repository", func(ctx context.Context, i int) error {
			_, err := f.repo.Get(ctx, perfkit.ID(i), false)
			return err
		}},
	}
	for _, l := range layers {
		b.Run("layer="+l.name, func(b *testing.B) {
			parallel(b, f, func(ctx context.Context, k int) error {
				i := f.liveUser(k)
				if err := l.get(ctx, i); err != nil {
					return fmt.Errorf("get user %d: %w", i, err)
				}
				return nil
			})
		})
	}
}
