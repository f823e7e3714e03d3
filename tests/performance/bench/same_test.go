package bench

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"usersvc/modules/users"
	"usersvc/platform/db"
	"usersvc/tests/performance/perfkit"
	"usersvc/tests/performance/pgxrepo"
)

// utc makes users read by GORM and by pgx comparable (the same instants, maybe in other zones).
func utc(us ...users.User) []users.User {
	out := make([]users.User, len(us))
	for i, u := range us {
		u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
		if u.DeletedAt.Valid {
			u.DeletedAt.Time = u.DeletedAt.Time.UTC()
		}
		out[i] = u
	}
	return out
}

// The baseline is only a baseline if it answers what the repository answers.
func TestPgxReturnsWhatGORMReturns(t *testing.T) {
	f := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	deleted := max(f.info.DeletedEvery, 1)
	for _, i := range []int{1, 2, f.info.Users / 2, f.info.Users, deleted} {
		for _, withDeleted := range []bool{false, true} {
			g, gErr := f.repo.Get(ctx, perfkit.ID(i), withDeleted)
			p, pErr := f.pgx.Get(ctx, perfkit.ID(i), withDeleted)
			if !withDeleted && !f.info.Live(i) {
				require.Error(t, gErr, "user %d", i)
				require.ErrorIs(t, pErr, pgxrepo.ErrNotFound, "user %d", i)
				continue
			}
			require.NoError(t, gErr)
			require.NoError(t, pErr)
			require.Equal(t, utc(*g), utc(p), "user %d", i)
		}
	}

	list := func(q users.ListQuery) []users.User {
		q.State, q.Sort = users.StateActive, users.SortCreated
		page, err := f.repo.List(ctx, q)
		require.NoError(t, err)
		return utc(page.Items...)
	}
	i := f.info.LiveUser(f.info.Users / 3)
	u := perfkit.Username(i)
	byName, err := f.pgx.GetByUsername(ctx, strings.ToUpper(u), lookupLimit)
	require.NoError(t, err)
	require.Len(t, byName.Items, 1)
	require.Equal(t, list(users.ListQuery{Username: strings.ToUpper(u), Limit: lookupLimit}), utc(byName.Items...))
	byEmail, err := f.pgx.GetByEmail(ctx, strings.ToUpper(perfkit.Email(i)), lookupLimit)
	require.NoError(t, err)
	require.Len(t, byEmail.Items, 1)
	require.Equal(t, list(users.ListQuery{Email: strings.ToUpper(perfkit.Email(i)), Limit: lookupLimit}), utc(byEmail.Items...))
	byPrefix, err := f.pgx.PrefixSearch(ctx, u[:len(u)-2], lookupLimit)
	require.NoError(t, err)
	require.NotEmpty(t, byPrefix.Items)
	require.Equal(t, list(users.ListQuery{Q: u[:len(u)-2], Limit: lookupLimit}), utc(byPrefix.Items...))

	// The first two keyset pages, and the OFFSET page that equals the second.
	gFirst, err := f.repo.List(ctx, users.ListQuery{Limit: 25, State: users.StateActive, Sort: users.SortCreated})
	require.NoError(t, err)
	pFirst, err := f.pgx.ListPage(ctx, nil, 25)
	require.NoError(t, err)
	require.Equal(t, utc(gFirst.Items...), utc(pFirst.Items...))
	require.NotNil(t, pFirst.Next)
	gSecond := list(users.ListQuery{Limit: 25, Cursor: gFirst.Next})
	pSecond, err := f.pgx.ListPage(ctx, pFirst.Next, 25)
	require.NoError(t, err)
	require.Equal(t, gSecond, utc(pSecond.Items...))
	offset, err := f.pgx.OffsetPage(ctx, 25, 25)
	require.NoError(t, err)
	require.Equal(t, gSecond, utc(offset...))
	var gormOffset []users.User
	require.NoError(t, f.gdb.WithContext(ctx).Order("created_at ASC, id ASC").Offset(25).Limit(25).Find(&gormOffset).Error)
	require.Equal(t, gSecond, utc(gormOffset...))

	if f.info.EventsPerUser > 0 {
		gEvents, err := f.repo.Events(ctx, perfkit.ID(i), "", 2)
		require.NoError(t, err)
		pEvents, _, err := f.pgx.Events(ctx, perfkit.ID(i), 0, 2)
		require.NoError(t, err)
		require.NotEmpty(t, pEvents)
		for k := range pEvents {
			pEvents[k].At, gEvents.Items[k].At = pEvents[k].At.UTC(), gEvents.Items[k].At.UTC()
		}
		require.Equal(t, gEvents.Items, pEvents)
	}

	gStats, err := f.repo.Stats(ctx, statsDays)
	require.NoError(t, err)
	pStats, err := f.pgx.Stats(ctx, statsDays)
	require.NoError(t, err)
	require.Equal(t, gStats, pStats)
}

// sqlLog records the text of every statement GORM sends.
type sqlLog struct {
	mu  sync.Mutex
	set map[string]bool
}

func (l *sqlLog) record(db *gorm.DB) { l.add(db.Statement.SQL.String(), nil) }

// add records a statement that bypassed GORM's callbacks (db.ObserveStatements).
func (l *sqlLog) add(sql string, _ []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.set[sql] = true
}

// The baseline sends GORM's statements byte for byte: a change in the repository (or in
// GORM's rendering) must show up here, not as a quietly unfair comparison. The statements are
// captured from a second app on the same database, so the benchmarks' app stays uninstrumented.
func TestSameSQLAsGORM(t *testing.T) {
	f := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := perfkit.OpenApp(ctx, f.url, 2)
	require.NoError(t, err)
	defer func() { require.NoError(t, a.Close()) }()
	log := &sqlLog{set: map[string]bool{}}
	cb := a.DB().Callback()
	require.NoError(t, cb.Create().After("gorm:create").Register("bench:sql", log.record))
	require.NoError(t, cb.Update().After("gorm:update").Register("bench:sql", log.record))
	require.NoError(t, cb.Query().After("gorm:query").Register("bench:sql", log.record))
	require.NoError(t, cb.Row().After("gorm:row").Register("bench:sql", log.record))
	require.NoError(t, cb.Raw().After("gorm:raw").Register("bench:sql", log.record))
	repo, err := perfkit.UsersRepository(a)
	require.NoError(t, err)
	stop, err := db.ObserveStatements(a.DB(), log.add)
	require.NoError(t, err)
	defer stop()

	ns := f.newNames(t)
	u, err := repo.Register(ctx, ns.next())
	require.NoError(t, err)
	_, err = repo.Get(ctx, u.ID, false)
	require.NoError(t, err)
	_, err = repo.Get(ctx, u.ID, true)
	require.NoError(t, err)
	name := "Renamed"
	_, err = repo.Update(ctx, u.ID, 0, users.Patch{FullName: &name})
	require.NoError(t, err)
	require.NoError(t, repo.Delete(ctx, u.ID))
	_, err = repo.Restore(ctx, u.ID)
	require.NoError(t, err)
	for _, q := range []users.ListQuery{{Username: "x"}, {Email: "x"}, {Q: "user0"}, {}} {
		q.Limit, q.State, q.Sort = 2, users.StateActive, users.SortCreated
		page, err := repo.List(ctx, q)
		require.NoError(t, err)
		if q.Q == "" && q.Username == "" && q.Email == "" {
			q.Cursor = page.Next // the next page of the unfiltered list
			_, err = repo.List(ctx, q)
			require.NoError(t, err)
		}
	}
	events, err := repo.Events(ctx, u.ID, "", 2)
	require.NoError(t, err)
	_, err = repo.Events(ctx, u.ID, events.Next, 2)
	require.NoError(t, err)
	_, err = repo.Stats(ctx, statsDays)
	require.NoError(t, err)
	var page []users.User
	require.NoError(t, a.DB().WithContext(ctx).Order("created_at ASC, id ASC").Offset(1).Limit(2).Find(&page).Error)

	sent := make([]string, 0, len(log.set))
	for s := range log.set {
		sent = append(sent, s)
	}
	sort.Strings(sent)
	for name, sql := range map[string]string{
		"Create": pgxrepo.SQLCreate, "InsertEvent": pgxrepo.SQLInsertEvent,
		"Get": pgxrepo.SQLGet, "GetWithDeleted": pgxrepo.SQLGetWithDeleted, "Reread": pgxrepo.SQLReread,
		"Lock": pgxrepo.SQLLock, "LockWithDeleted": pgxrepo.SQLLockWithDeleted, "LockNoKey": pgxrepo.SQLLockNoKey,
		"Update": pgxrepo.SQLUpdate, "Delete": pgxrepo.SQLDelete, "Restore": pgxrepo.SQLRestore,
		"ByUsername": pgxrepo.SQLByUsername, "ByEmail": pgxrepo.SQLByEmail, "Prefix": pgxrepo.SQLPrefix,
		"FirstPage": pgxrepo.SQLFirstPage, "NextPage": pgxrepo.SQLNextPage, "OffsetPage": pgxrepo.SQLOffsetPage,
		"UserExists": pgxrepo.SQLUserExists, "Events": pgxrepo.SQLEvents, "EventsNext": pgxrepo.SQLEventsNext,
		"StatsCounts": pgxrepo.SQLStatsCounts, "StatsPerDay": pgxrepo.SQLStatsPerDay,
	} {
		require.True(t, log.set[sql], "pgxrepo.SQL%s is not what GORM sends:\n%s\nGORM sent:\n%s", name, sql, strings.Join(sent, "\n"))
	}
}
