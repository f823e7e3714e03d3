package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"usersvc/modules/users"
	"usersvc/tests/performance/pgxrepo"
)

// registerBatchMax is the most registrations POST /users/batch passes to RegisterBatch at
// once (maxBatch in modules/users/handlers.go).
const registerBatchMax = 1000

// BenchmarkBulk is suite 4. One op inserts n new users, sequentially (one caller, as a loop
// or an import job would); the rows are built before the timer runs and counted after:
//
//   - gorm-one-by-one: the repository's Register for each user (a transaction with the user
//     and its event each: what n POST /users cost the database)
//   - gorm-create-in-batches: plain GORM CreateInBatches of users rows, as many rows per
//     statement as pgx-multirow puts in one (one transaction)
//   - gorm-register-batch: the repository's RegisterBatch (users and their events) in chunks
//     of registerBatchMax, one transaction each
//   - pgx-multirow: multi-row INSERTs of users rows under the 65535-parameter limit (one
//     transaction)
//   - pgx-copy: one COPY of users rows
func BenchmarkBulk(b *testing.B) {
	f := env(b)
	ways := []struct {
		name   string
		insert func(ctx context.Context, us []users.User) (int64, error)
	}{
		{"gorm-one-by-one", func(ctx context.Context, us []users.User) (int64, error) {
			for i := range us {
				r := users.Registration{Username: us[i].Username, Email: us[i].Email, FullName: us[i].FullName}
				if _, err := f.repo.Register(ctx, r); err != nil {
					return int64(i), err
				}
			}
			return int64(len(us)), nil
		}},
		{"gorm-create-in-batches", func(ctx context.Context, us []users.User) (int64, error) {
			for i := range us {
				us[i].EmailKey = strings.ToLower(us[i].Email) // the module's key of an ASCII address
			}
			res := f.gdb.WithContext(ctx).CreateInBatches(&us, pgxrepo.MaxRowsPerInsert)
			return res.RowsAffected, res.Error
		}},
		{"gorm-register-batch", func(ctx context.Context, us []users.User) (int64, error) {
			var n int64
			for from := 0; from < len(us); from += registerBatchMax {
				chunk := us[from:min(from+registerBatchMax, len(us))]
				rs := make([]users.Registration, len(chunk))
				for i, u := range chunk {
					rs[i] = users.Registration{Username: u.Username, Email: u.Email, FullName: u.FullName}
				}
				stored, err := f.repo.RegisterBatch(ctx, rs)
				if err != nil {
					return n, err
				}
				n += int64(len(stored))
			}
			return n, nil
		}},
		{"pgx-multirow", func(ctx context.Context, us []users.User) (int64, error) {
			return f.pgx.InsertMultiRow(ctx, us)
		}},
		{"pgx-copy", func(ctx context.Context, us []users.User) (int64, error) {
			return f.pgx.CopyFrom(ctx, us)
		}},
	}
	for _, n := range f.bulkSizes {
		for _, way := range ways {
			b.Run(fmt.Sprintf("n=%d/way=%s", n, way.name), func(b *testing.B) {
				ctx := context.Background()
				ns := f.newNames(b)
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					us := ns.users(n, false)
					b.StartTimer()
					written, err := way.insert(ctx, us)
					if err != nil {
						b.Fatal(err)
					}
					if written != int64(n) {
						b.Fatalf("%s wrote %d rows, want %d", way.name, written, n)
					}
				}
				b.StopTimer()
				mustHave(b, "bulk users", f.usersUnder(b, ns.prefix), int64(n*b.N))
			})
		}
	}
}

// BenchmarkTx is suite 10, through raw pgx so that only the database's side differs. One op,
// from one of pool-size callers, is:
//
//   - create-with-event: BEGIN; INSERT user; INSERT event; COMMIT (what create does)
//   - single-insert: one autocommit INSERT of a user (one statement, one commit)
//   - batch-100: 100 INSERTs of a user each inside one transaction (one commit)
//   - 100-single-inserts: 100 autocommit INSERTs (100 commits)
//
// The users are counted afterwards.
func BenchmarkTx(b *testing.B) {
	f := env(b)
	kinds := []struct {
		name  string
		users int
		run   func(ctx context.Context, us []users.User) (int64, error)
	}{
		{"create-with-event", 1, func(ctx context.Context, us []users.User) (int64, error) {
			_, err := f.pgx.Register(ctx, users.Registration{Username: us[0].Username, Email: us[0].Email, FullName: us[0].FullName})
			return 1, err
		}},
		{"single-insert", 1, f.pgx.InsertOneByOne},
		{"batch-100", 100, f.pgx.InsertInOneTx},
		{"100-single-inserts", 100, f.pgx.InsertOneByOne},
	}
	for _, kind := range kinds {
		b.Run("kind="+kind.name, func(b *testing.B) {
			ns := f.newNames(b)
			parallel(b, f, func(ctx context.Context, _ int) error {
				us := ns.users(kind.users, false)
				n, err := kind.run(ctx, us)
				if err == nil && n != int64(kind.users) {
					err = fmt.Errorf("%d rows written, want %d", n, kind.users)
				}
				return err
			})
			mustHave(b, "users", f.usersUnder(b, ns.prefix), int64(kind.users*b.N))
		})
	}
}
