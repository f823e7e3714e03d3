package perfkit

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
)

// SeedInfo describes the seeded data set. Seeded user i (1 ≤ i ≤ Users) has ID(i),
// Username(i) and Email(i); created_at grows with i over the year before the seeding, one
// user in DeletedEvery is soft-deleted, and each has EventsPerUser events (a "created" one,
// then "updated" ones). pgbench scripts address user i with IDSQL.
type SeedInfo struct {
	Users         int
	EventsPerUser int
	DeletedEvery  int
}

// IDSQL is SQL for seeded user :n's id, for pgbench scripts (pgbench variables are numbers;
// the cast lets -M prepared resolve to_hex).
const IDSQL = `('00000000-0000-7000-8000-' || lpad(to_hex((:n)::bigint), 12, '0'))::uuid`

// ID is seeded user i's id (the form IDSQL builds).
func ID(i int) uuid.UUID {
	return uuid.MustParse(fmt.Sprintf("00000000-0000-7000-8000-%012x", i))
}

// Username is seeded user i's username (lower case).
func Username(i int) string { return fmt.Sprintf("user%08d", i) }

// Email is seeded user i's email, in mixed case: lookups must ignore case to find it.
func Email(i int) string { return fmt.Sprintf("User%08d@Example.com", i) }

// Live reports whether seeded user i is not deleted.
func (s SeedInfo) Live(i int) bool { return s.DeletedEvery == 0 || i%s.DeletedEvery != 0 }

// LiveUser returns the k-th live seeded user's number, cycling through all of them: a
// benchmark's b.N-th lookup.
func (s SeedInfo) LiveUser(k int) int {
	i := k%s.Users + 1
	if !s.Live(i) {
		i = i%s.Users + 1
	}
	return i
}

const seedChunk = 50_000

// Seed fills the migrated, empty database at dbURL with p's data set, server-side
// (INSERT … SELECT generate_series, two connections), then VACUUM ANALYZEs it so plans and
// index-only scans are those of a settled table.
func Seed(ctx context.Context, dbURL string, p Profile) (SeedInfo, error) {
	info := SeedInfo{Users: p.Users, EventsPerUser: p.EventsPerUser, DeletedEvery: p.DeletedEvery}
	start := time.Now().UTC().Add(-365 * 24 * time.Hour).Truncate(time.Second)
	step := 365 * 24 * time.Hour / time.Duration(max(p.Users, 1))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2)
	for from := 1; from <= p.Users; from += seedChunk {
		to := min(from+seedChunk-1, p.Users)
		g.Go(func() error { return seedChunkOf(gctx, dbURL, info, from, to, start, step) })
	}
	if err := g.Wait(); err != nil {
		return SeedInfo{}, err
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return SeedInfo{}, fmt.Errorf("perf: seed: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE users, user_events"); err != nil {
		return SeedInfo{}, fmt.Errorf("perf: seed: vacuum: %w", err)
	}
	return info, nil
}

// seedChunkOf inserts users from..to and their events in one transaction. Foreign-key
// triggers are skipped (session_replication_role): the events' users are inserted just before.
func seedChunkOf(ctx context.Context, dbURL string, s SeedInfo, from, to int, start time.Time, step time.Duration) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("perf: seed: %w", err)
	}
	defer conn.Close(context.Background())
	del := s.DeletedEvery
	if del == 0 {
		del = s.Users + 1
	}
	batch := &pgx.Batch{}
	batch.Queue("SET session_replication_role = replica")
	batch.Queue(`INSERT INTO users (id, username, email, full_name, version, created_at, updated_at, deleted_at)
		SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
			'user' || lpad(i::text, 8, '0'), 'User' || lpad(i::text, 8, '0') || '@Example.com',
			'Seeded User ' || i, CASE WHEN i % $3 = 0 THEN 2 ELSE 1 END,
			$4::timestamptz + i * $5::interval, $4::timestamptz + i * $5::interval,
			CASE WHEN i % $3 = 0 THEN $4::timestamptz + i * $5::interval + interval '1 hour' END
		FROM generate_series($1::int, $2::int) AS i`,
		from, to, del, start, step)
	batch.Queue(`INSERT INTO user_events (user_id, action, changes, at, actor)
		SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
			CASE WHEN j = 1 THEN 'created' ELSE 'updated' END,
			CASE WHEN j = 1 THEN jsonb_build_object('username', 'user' || lpad(i::text, 8, '0'))
				ELSE jsonb_build_object('full_name', jsonb_build_object('from', 'v' || (j - 1), 'to', 'v' || j)) END,
			$4::timestamptz + i * $5::interval + (j - 1) * interval '1 minute', 'seed'
		FROM generate_series($1::int, $2::int) AS i, generate_series(1, $3::int) AS j
		ORDER BY i, j`,
		from, to, s.EventsPerUser, start, step)
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("perf: seed: %w", err)
	}
	defer tx.Rollback(context.Background())
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("perf: seed users %d..%d: %w", from, to, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("perf: seed users %d..%d: %w", from, to, err)
	}
	return nil
}
