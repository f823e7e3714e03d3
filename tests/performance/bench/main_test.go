package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"gorm.io/gorm"

	"usersvc/app"
	"usersvc/modules/users"
	"usersvc/platform/db"
	"usersvc/tests/performance/perfkit"
	"usersvc/tests/performance/pgxrepo"
	"usersvc/tests/testdb"
)

// ownProfile is the data set made when PERF_DATABASE_URL is not given: enough rows for the
// planner to prefer the indexes, small enough for `make test`.
var ownProfile = perfkit.Profile{Users: 5_000, EventsPerUser: 3, DeletedEvery: 20}

// fixture is what every test and benchmark of the package shares.
type fixture struct {
	url       string
	info      perfkit.SeedInfo
	poolSize  int
	depths    []int
	bulkSizes []int
	live      int // live users when the run started

	app     *app.App
	repo    users.Repository // the real repository: Runner layers included
	gdb     *gorm.DB         // the app's plain GORM handle
	pool    *pgxpool.Pool    // raw pgx pool, MaxConns = poolSize
	pgx     *pgxrepo.Repo
	cursors *db.Cursors

	ownDB bool
	drop  func() error
}

var (
	fx      *fixture
	fxErr   error
	fxOnce  sync.Once
	fxSetUp atomic.Bool
)

// TestMain sets nothing up itself: the first test or benchmark that runs asks env for the
// database, so `go test -run '^$'` without -bench (or a filtered run) costs nothing.
func TestMain(m *testing.M) {
	code := m.Run()
	if fxSetUp.Load() {
		if err := teardown(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: teardown:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// env returns the shared fixture, setting it up on first use.
func env(tb testing.TB) *fixture {
	tb.Helper()
	fxOnce.Do(func() {
		fxSetUp.Store(true)
		fxErr = setup()
	})
	if fxErr != nil {
		tb.Fatalf("bench: setup: %v", fxErr)
	}
	return fx
}

// setup fills fx; teardown cleans up whatever it opened, also after an error.
func setup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	f := &fixture{}
	fx = f
	var err error
	if f.poolSize, err = envInt("PERF_POOL_SIZE", 8); err != nil {
		return err
	}
	if f.depths, err = envInts("PERF_DEPTHS", "0,1000"); err != nil {
		return err
	}
	if f.bulkSizes, err = envInts("PERF_BULK_SIZES", "1000"); err != nil {
		return err
	}
	dbURL := os.Getenv("PERF_DATABASE_URL")
	if dbURL == "" {
		if dbURL, f.drop, err = testdb.Create("perf_bench"); err != nil {
			return err
		}
		f.ownDB = true
		if err := perfkit.Migrate(ctx, dbURL); err != nil {
			return err
		}
		if f.info, err = perfkit.Seed(ctx, dbURL, ownProfile); err != nil {
			return err
		}
	} else if f.info, err = seedInfoFromEnv(); err != nil {
		return err
	}

	f.url = dbURL
	if f.app, f.repo, err = perfkit.OpenRepository(ctx, dbURL, f.poolSize); err != nil {
		return err
	}
	f.gdb = f.app.DB()
	if f.cursors, err = db.NewCursors([]byte(perfkit.CursorSecret)); err != nil {
		return err
	}
	cfg, err := pgxrepo.PoolConfig(dbURL, f.poolSize, perfkit.ApplicationName+"-pgx")
	if err != nil {
		return fmt.Errorf("PERF_DATABASE_URL: %w", err)
	}
	if f.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return err
	}
	f.pgx = pgxrepo.New(f.pool)
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE deleted_at IS NULL`).Scan(&f.live); err != nil {
		return err
	}
	return nil
}

// teardown deletes the rows the run wrote (a shared database) or drops its own database.
func teardown() error {
	f := fx
	if f == nil {
		return nil
	}
	var errs []error
	if f.pool != nil && !f.ownDB {
		errs = append(errs, f.deleteUnder(runPrefix))
	}
	if f.pool != nil {
		f.pool.Close()
	}
	if f.app != nil {
		errs = append(errs, f.app.Close())
	}
	if f.drop != nil {
		errs = append(errs, f.drop())
	}
	return errors.Join(errs...)
}

func seedInfoFromEnv() (perfkit.SeedInfo, error) {
	n, err := envInt("PERF_USERS", 0)
	if err != nil || n < 1 {
		return perfkit.SeedInfo{}, fmt.Errorf("PERF_DATABASE_URL needs PERF_USERS, the number of seeded users (%v)", err)
	}
	events, err := envInt("PERF_EVENTS_PER_USER", 0)
	if err != nil {
		return perfkit.SeedInfo{}, err
	}
	deleted, err := envInt("PERF_DELETED_EVERY", 0)
	if err != nil {
		return perfkit.SeedInfo{}, err
	}
	return perfkit.SeedInfo{Users: n, EventsPerUser: events, DeletedEvery: deleted}, nil
}

func envInt(name string, def int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s=%q is not a non-negative integer", name, v)
	}
	return n, nil
}

func envInts(name, def string) ([]int, error) {
	v := os.Getenv(name)
	if v == "" {
		v = def
	}
	var out []int
	for _, s := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s=%q: want comma-separated non-negative integers", name, v)
		}
		out = append(out, n)
	}
	return out, nil
}

// runPrefix starts the username of every user this process writes ("pb" and 8 random hex
// digits), so the rows can be counted and deleted again.
var runPrefix = func() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "pb" + hex.EncodeToString(b)
}()

var batchSeq atomic.Int64

// names hands out unique registrations under a prefix of their own (one per benchmark
// invocation), so what that invocation wrote can be counted. Usernames stay under 32 chars.
type names struct {
	prefix string
	n      atomic.Int64
}

// newNames returns a fresh prefix. The users written under it (and their events) are deleted
// when the benchmark round ends, so a write benchmark leaves the seeded data set as it found
// it for the next one: else thousands of users created "today" would, say, inflate the stats
// query's last day, and -count would compound it.
func (f *fixture) newNames(tb testing.TB) *names {
	ns := &names{prefix: fmt.Sprintf("%s_%d_", runPrefix, batchSeq.Add(1))}
	tb.Cleanup(func() {
		if err := f.deleteUnder(ns.prefix); err != nil {
			tb.Errorf("bench: delete the users written under %s: %v", ns.prefix, err)
		}
	})
	return ns
}

// deleteUnder deletes the users whose username starts with prefix, and their events.
func (f *fixture) deleteUnder(prefix string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	lo, hi := db.PrefixRange(prefix)
	_, err := f.pool.Exec(ctx, `DELETE FROM user_events WHERE user_id IN
		(SELECT id FROM users WHERE lower(username) >= $1 AND lower(username) < $2)`, lo, hi)
	if err != nil {
		return err
	}
	_, err = f.pool.Exec(ctx, `DELETE FROM users WHERE lower(username) >= $1 AND lower(username) < $2`, lo, hi)
	return err
}

func (s *names) next() users.Registration {
	u := s.prefix + strconv.FormatInt(s.n.Add(1), 10)
	return users.Registration{Username: u, Email: u + "@bench.test", FullName: "Bench " + u}
}

// users builds n new user rows (UUIDv7 ids, timestamps) the way Register would.
func (s *names) users(n int, deleted bool) []users.User {
	at := time.Now().UTC().Truncate(time.Microsecond)
	us := make([]users.User, n)
	for i := range us {
		r := s.next()
		us[i] = users.User{ID: uuid.Must(uuid.NewV7()), Username: r.Username, Email: r.Email, FullName: r.FullName,
			Version: 1, CreatedAt: at, UpdatedAt: at}
		if deleted {
			us[i].DeletedAt.Time, us[i].DeletedAt.Valid = at, true
		}
	}
	return us
}

// count runs a count(*) query.
func (f *fixture) count(tb testing.TB, sql string, args ...any) int64 {
	tb.Helper()
	var n int64
	if err := f.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		tb.Fatalf("bench: %s: %v", sql, err)
	}
	return n
}

// usersUnder counts the users (live or deleted) whose username starts with prefix.
func (f *fixture) usersUnder(tb testing.TB, prefix string) int64 {
	lo, hi := db.PrefixRange(prefix)
	return f.count(tb, `SELECT count(*) FROM users WHERE lower(username) >= $1 AND lower(username) < $2`, lo, hi)
}

// eventsUnder counts the events with action of the users whose username starts with prefix.
func (f *fixture) eventsUnder(tb testing.TB, prefix, action string) int64 {
	lo, hi := db.PrefixRange(prefix)
	return f.count(tb, `SELECT count(*) FROM user_events e JOIN users u ON u.id = e.user_id
		WHERE lower(u.username) >= $1 AND lower(u.username) < $2 AND e.action = $3`, lo, hi, action)
}

// mustHave fails a benchmark whose writes are not all there: one that did no work must not
// look fast.
func mustHave(tb testing.TB, what string, got, want int64) {
	tb.Helper()
	if got != want {
		tb.Fatalf("bench: %s: found %d rows, want %d: the benchmark did not do its work", what, got, want)
	}
}

// parallel runs body b.N times from about poolSize goroutines (b.SetParallelism rounds up to
// a multiple of GOMAXPROCS), k numbering the calls from 0. On this 2-core machine one
// sequential caller mostly measures wake-up latency; pool-size callers measure throughput, and
// ns/op is then wall time / ops. The first error fails the benchmark.
func parallel(b *testing.B, f *fixture, body func(ctx context.Context, k int) error) {
	b.Helper()
	ctx := context.Background()
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism(max(1, (f.poolSize+procs-1)/procs))
	var k atomic.Int64
	var failed atomic.Bool
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if failed.Load() {
				continue
			}
			if err := body(ctx, int(k.Add(1)-1)); err != nil && !failed.Swap(true) {
				b.Error(err)
			}
		}
	})
	b.StopTimer()
}

// spread maps the k-th call to a seeded user number, scattering consecutive calls over the
// table instead of walking it in order.
func (f *fixture) spread(k int) int { return (k*7919)%f.info.Users + 1 }

// liveUser is the seeded live user the k-th call reads.
func (f *fixture) liveUser(k int) int { return f.info.LiveUser(f.spread(k) - 1) }

// settle VACUUMs users and user_events when the write benchmarks' deleted rows left many dead
// tuples, so the read benchmarks that follow measure the seeded table, not its bloat. It runs
// before the family's timers start.
func (f *fixture) settle(b *testing.B) {
	b.Helper()
	ctx := context.Background()
	var dead, live int64
	err := f.pool.QueryRow(ctx, `SELECT coalesce(sum(n_dead_tup), 0), coalesce(sum(n_live_tup), 0)
		FROM pg_stat_user_tables WHERE relname IN ('users', 'user_events')`).Scan(&dead, &live)
	if err != nil {
		b.Fatal(err)
	}
	if dead*20 <= live { // under 5%
		return
	}
	if _, err := f.pool.Exec(ctx, "VACUUM users, user_events"); err != nil {
		b.Fatal(err)
	}
}
