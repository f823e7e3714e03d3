package scale

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"usersvc/modules/users"
	"usersvc/tests/performance/perfkit"
	"usersvc/tests/testdb"
)

// dataset is one users table the suite measures.
type dataset struct {
	Users int // seeded users: the column's size
	URL   string
	Info  perfkit.SeedInfo
	Live  int // live users in the table now (earlier suites may have added and removed some)
	Total int // every row of users now
	repo  users.Repository
	conn  *pgx.Conn // for the cursor of the deep page
}

// openDatasets returns one dataset per size, smallest first: the largest is the run's own
// database, each other one a database of its own, created, migrated and seeded like the
// run's. closeAll closes every connection and drops every database it created; call it also
// when err is not nil.
func openDatasets(ctx context.Context, env *perfkit.Env, sizes []int) (sets []*dataset, closeAll func(), err error) {
	var closers []func()
	closeAll = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	for _, n := range sizes {
		d := &dataset{Users: n, URL: env.DBURL, Info: env.Data}
		if n != env.Data.Users {
			url, drop, err := testdb.Create("perf_scale_" + strconv.Itoa(n))
			if err != nil {
				return nil, closeAll, err
			}
			closers = append(closers, func() {
				if err := drop(); err != nil && env.Log != nil {
					env.Log.Warn("perf: scale: dropping a database failed", "users", n, "err", err)
				}
			})
			if d.Info, err = seed(ctx, url, n, env.Data); err != nil {
				return nil, closeAll, err
			}
			d.URL = url
		}
		a, repo, err := perfkit.OpenRepository(ctx, d.URL, 2)
		if err != nil {
			return nil, closeAll, err
		}
		closers = append(closers, func() { _ = a.Close() })
		d.repo = repo
		if d.conn, err = pgx.Connect(ctx, d.URL); err != nil {
			return nil, closeAll, fmt.Errorf("scale: %w", err)
		}
		conn := d.conn
		closers = append(closers, func() { _ = conn.Close(context.Background()) })
		err = d.conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE deleted_at IS NULL), count(*) FROM users`).Scan(&d.Live, &d.Total)
		if err != nil {
			return nil, closeAll, fmt.Errorf("scale: counting users: %w", err)
		}
		if d.Live < 26 {
			return nil, closeAll, fmt.Errorf("scale: %d live users: too few for a page of 25 after the first", d.Live)
		}
		sets = append(sets, d)
	}
	return sets, closeAll, nil
}

// seed migrates the empty database at url and seeds n users shaped like the run's data set.
func seed(ctx context.Context, url string, n int, like perfkit.SeedInfo) (perfkit.SeedInfo, error) {
	if err := perfkit.Migrate(ctx, url); err != nil {
		return perfkit.SeedInfo{}, err
	}
	info, err := perfkit.Seed(ctx, url, perfkit.Profile{Users: n, EventsPerUser: like.EventsPerUser, DeletedEvery: like.DeletedEvery})
	if err != nil {
		return perfkit.SeedInfo{}, fmt.Errorf("scale: seeding %d users: %w", n, err)
	}
	return info, nil
}
