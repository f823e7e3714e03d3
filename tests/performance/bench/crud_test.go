package bench

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"usersvc/modules/users"
	"usersvc/tests/performance/perfkit"
)

// lookupLimit is the page size of a lookup: the API's default limit.
const lookupLimit = 25

// updatePool is how many users the update benchmark spreads its calls over: far more than the
// callers, so row locks rarely queue.
const updatePool = 1024

// BenchmarkCRUD is suite 1. One op is one repository call by one of the pool-size callers:
//
//   - create: Register a new user (BEGIN; INSERT users; INSERT user_events; COMMIT)
//   - get: Get a seeded live user by id
//   - update: change a user's full_name (BEGIN; SELECT … FOR UPDATE; UPDATE, version + 1;
//     INSERT event; COMMIT), over updatePool users made before the timer starts
//   - delete: soft-delete one live user (lock, UPDATE, event); b.N users are made (COPY) before
//     the timer starts
//   - restore: restore one deleted user (lock, UPDATE, read back, event); b.N deleted users are
//     made before the timer starts
//
// Writes are counted afterwards (users, or events of the op's action): all b.N must be there.
func BenchmarkCRUD(b *testing.B) {
	f := env(b)
	f.settle(b) // BenchmarkBulk and BenchmarkTx (earlier files) leave deleted rows behind
	for _, op := range []string{"create", "get", "update", "delete", "restore"} {
		for _, im := range f.impls() {
			b.Run("op="+op+"/impl="+im.name, func(b *testing.B) { crudOps[op](b, f, im) })
		}
	}
}

var crudOps = map[string]func(b *testing.B, f *fixture, im impl){
	"create": func(b *testing.B, f *fixture, im impl) {
		ns := f.newNames(b)
		parallel(b, f, func(ctx context.Context, _ int) error {
			_, err := im.register(ctx, ns.next())
			return err
		})
		mustHave(b, "created users", f.usersUnder(b, ns.prefix), int64(b.N))
		mustHave(b, "created events", f.eventsUnder(b, ns.prefix, users.ActionCreated), int64(b.N))
	},
	"get": func(b *testing.B, f *fixture, im impl) {
		parallel(b, f, func(ctx context.Context, k int) error {
			id := perfkit.ID(f.liveUser(k))
			got, err := im.get(ctx, id)
			return sameID(got, id, err)
		})
	},
	"update": func(b *testing.B, f *fixture, im impl) {
		ids, prefix := f.prepared(b, min(updatePool, b.N), false)
		parallel(b, f, func(ctx context.Context, k int) error {
			// A name no call has set before: every call changes the row.
			v, err := im.setName(ctx, ids[k%len(ids)], "Renamed "+strconv.Itoa(k))
			if err == nil && v < 2 {
				err = fmt.Errorf("version %d after an update", v)
			}
			return err
		})
		mustHave(b, "updated events", f.eventsUnder(b, prefix, users.ActionUpdated), int64(b.N))
	},
	"delete": func(b *testing.B, f *fixture, im impl) {
		ids, prefix := f.prepared(b, b.N, false)
		parallel(b, f, func(ctx context.Context, k int) error { return im.delete(ctx, ids[k]) })
		mustHave(b, "deleted events", f.eventsUnder(b, prefix, users.ActionDeleted), int64(b.N))
		mustHave(b, "deleted users", f.deletedAmong(b, ids), int64(b.N))
	},
	"restore": func(b *testing.B, f *fixture, im impl) {
		ids, prefix := f.prepared(b, b.N, true)
		parallel(b, f, func(ctx context.Context, k int) error {
			got, err := im.restore(ctx, ids[k])
			return sameID(got, ids[k], err)
		})
		mustHave(b, "restored events", f.eventsUnder(b, prefix, users.ActionRestored), int64(b.N))
		mustHave(b, "deleted users left", f.deletedAmong(b, ids), 0)
	},
}

// prepared stores n new users (deleted ones when deleted) with one COPY, before the timer
// starts, and returns their ids and the username prefix they alone share.
func (f *fixture) prepared(b *testing.B, n int, deleted bool) ([]uuid.UUID, string) {
	b.Helper()
	ns := f.newNames(b)
	us := ns.users(n, deleted)
	written, err := f.pgx.CopyFrom(context.Background(), us)
	if err != nil {
		b.Fatal(err)
	}
	mustHave(b, "prepared users", written, int64(n))
	ids := make([]uuid.UUID, n)
	for i := range us {
		ids[i] = us[i].ID
	}
	return ids, ns.prefix
}

// deletedAmong counts the deleted users among ids.
func (f *fixture) deletedAmong(b *testing.B, ids []uuid.UUID) int64 {
	return f.count(b, `SELECT count(*) FROM users WHERE id = ANY($1) AND deleted_at IS NOT NULL`, ids)
}

// BenchmarkLookup is suite 2. One op is one lookup of a seeded live user, as a list with the
// API's default limit: by username (exact), by email (exact, in upper case while stored in
// mixed case), and by prefix (the username without its last digit: up to 10 users, over
// username or email). A lookup that finds nothing fails.
func BenchmarkLookup(b *testing.B) {
	f := env(b)
	f.settle(b)
	for _, by := range []string{"username", "email", "prefix"} {
		for _, im := range f.impls() {
			b.Run("by="+by+"/impl="+im.name, func(b *testing.B) {
				parallel(b, f, func(ctx context.Context, k int) error {
					i := f.liveUser(k)
					switch by {
					case "username":
						n, err := im.byUsername(ctx, perfkit.Username(i), lookupLimit)
						return rowsBetween(n, err, 1, 1)
					case "email":
						n, err := im.byEmail(ctx, strings.ToUpper(perfkit.Email(i)), lookupLimit)
						return rowsBetween(n, err, 1, 1)
					default:
						u := perfkit.Username(i)
						n, err := im.prefix(ctx, u[:len(u)-1], lookupLimit)
						return rowsBetween(n, err, 1, 10)
					}
				})
			})
		}
	}
}

// BenchmarkPage is suite 3's page sizes. One op is the first keyset page of live users in
// created_at order (the repository's List; pgx asks for size+1 rows the same way).
func BenchmarkPage(b *testing.B) {
	f := env(b)
	f.settle(b)
	for _, size := range []int{10, 25, 50, 100} {
		for _, im := range f.impls() {
			b.Run(fmt.Sprintf("size=%d/impl=%s", size, im.name), func(b *testing.B) {
				parallel(b, f, func(ctx context.Context, _ int) error {
					n, err := im.firstPage(ctx, size)
					return rowsBetween(n, err, size, size)
				})
			})
		}
	}
}
