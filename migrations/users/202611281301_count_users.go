package users

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// countUsers is frozen SQL: never edit it once committed; add a new migration instead.
//
// Counters for the stats, kept by triggers on users in the transaction of every change, so
// every path that writes users (the API, batches, bulk INSERT … SELECT, COPY, hard deletes,
// a hand-written UPDATE) keeps them equal to count(*) in every snapshot:
//
//   - user_counts: live and deleted users;
//   - user_day_counts: users per UTC day of created_at, deleted or not.
//
// Each is split in 16 shards by the writing backend (pg_backend_pid() % 16): a transaction
// always adds to the rows of its own shard, so concurrent writers on other connections
// rarely wait on one another's row lock; the reader sums the shards (16 rows, and 16 per
// day). A shard's numbers may go negative (a user created through one connection and
// deleted through another); only the sums mean something.
//
// INSERT and DELETE are counted per statement from the transition table (one row update per
// shard and day for a 1000-user batch or a bulk load); UPDATE per row, and only when it
// moves a user between live and deleted or to another day. The triggers fire ALWAYS, also
// under session_replication_role = replica (the performance seeder loads that way).
// Each statement updates its rows in one order (user_counts, then days ascending), so two
// single-statement writers sharing a shard queue rather than deadlock; transactions that
// write users in several ways at once can still deadlock there, and the Runner retries them.
//
// The backfill runs under a lock that keeps writers of users out from before it reads until
// this migration commits (with the triggers in place): no change is counted twice or missed.
func countUsers() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: "202611281301_count_users",
		Migrate: func(tx *gorm.DB) error {
			return exec(tx,
				`LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE`,
				`CREATE TABLE user_counts (
					shard   smallint PRIMARY KEY,
					live    bigint NOT NULL DEFAULT 0,
					deleted bigint NOT NULL DEFAULT 0
				)`,
				`CREATE TABLE user_day_counts (
					day     date NOT NULL,
					shard   smallint NOT NULL,
					created bigint NOT NULL DEFAULT 0,
					PRIMARY KEY (day, shard)
				)`,
				// INSERT (direction +1) and DELETE (direction -1) statements; both triggers name their
				// transition table "changed".
				`CREATE FUNCTION user_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
				DECLARE
					own_shard CONSTANT smallint := pg_backend_pid() % 16;
					direction CONSTANT bigint := CASE TG_OP WHEN 'DELETE' THEN -1 ELSE 1 END;
				BEGIN
					INSERT INTO user_counts AS c (shard, live, deleted)
						SELECT own_shard, direction * count(*) FILTER (WHERE deleted_at IS NULL),
							direction * count(*) FILTER (WHERE deleted_at IS NOT NULL)
						FROM changed HAVING count(*) > 0
					ON CONFLICT ON CONSTRAINT user_counts_pkey
						DO UPDATE SET live = c.live + excluded.live, deleted = c.deleted + excluded.deleted;
					INSERT INTO user_day_counts AS c (day, shard, created)
						SELECT (created_at AT TIME ZONE 'UTC')::date, own_shard, direction * count(*)
						FROM changed GROUP BY 1 ORDER BY 1
					ON CONFLICT ON CONSTRAINT user_day_counts_pkey
						DO UPDATE SET created = c.created + excluded.created;
					RETURN NULL;
				END
				$$`,
				// A user deleted or restored, or whose created_at moved to another day.
				`CREATE FUNCTION user_counts_move() RETURNS trigger LANGUAGE plpgsql AS $$
				DECLARE
					own_shard CONSTANT smallint := pg_backend_pid() % 16;
					live_delta CONSTANT bigint := (NEW.deleted_at IS NULL)::int - (OLD.deleted_at IS NULL)::int;
					old_day CONSTANT date := (OLD.created_at AT TIME ZONE 'UTC')::date;
					new_day CONSTANT date := (NEW.created_at AT TIME ZONE 'UTC')::date;
				BEGIN
					IF live_delta <> 0 THEN
						INSERT INTO user_counts AS c (shard, live, deleted) VALUES (own_shard, live_delta, -live_delta)
						ON CONFLICT ON CONSTRAINT user_counts_pkey
							DO UPDATE SET live = c.live + excluded.live, deleted = c.deleted + excluded.deleted;
					END IF;
					IF old_day <> new_day THEN
						INSERT INTO user_day_counts AS c (day, shard, created)
							SELECT d, own_shard, n FROM (VALUES (old_day, -1), (new_day, 1)) AS v (d, n) ORDER BY d
						ON CONFLICT ON CONSTRAINT user_day_counts_pkey
							DO UPDATE SET created = c.created + excluded.created;
					END IF;
					RETURN NULL;
				END
				$$`,
				`CREATE FUNCTION user_counts_clear() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN
					DELETE FROM user_counts;
					DELETE FROM user_day_counts;
					RETURN NULL;
				END
				$$`,
				`CREATE TRIGGER user_counts_insert AFTER INSERT ON users REFERENCING NEW TABLE AS changed
					FOR EACH STATEMENT EXECUTE FUNCTION user_counts_add()`,
				`CREATE TRIGGER user_counts_delete AFTER DELETE ON users REFERENCING OLD TABLE AS changed
					FOR EACH STATEMENT EXECUTE FUNCTION user_counts_add()`,
				`CREATE TRIGGER user_counts_update AFTER UPDATE ON users FOR EACH ROW
					WHEN ((OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL) OR OLD.created_at <> NEW.created_at)
					EXECUTE FUNCTION user_counts_move()`,
				`CREATE TRIGGER user_counts_truncate AFTER TRUNCATE ON users
					FOR EACH STATEMENT EXECUTE FUNCTION user_counts_clear()`,
				`ALTER TABLE users ENABLE ALWAYS TRIGGER user_counts_insert`,
				`ALTER TABLE users ENABLE ALWAYS TRIGGER user_counts_delete`,
				`ALTER TABLE users ENABLE ALWAYS TRIGGER user_counts_update`,
				`ALTER TABLE users ENABLE ALWAYS TRIGGER user_counts_truncate`,
				`INSERT INTO user_counts (shard, live, deleted)
					SELECT 0, count(*) FILTER (WHERE deleted_at IS NULL), count(*) FILTER (WHERE deleted_at IS NOT NULL)
					FROM users`,
				`INSERT INTO user_day_counts (day, shard, created)
					SELECT (created_at AT TIME ZONE 'UTC')::date, 0, count(*) FROM users GROUP BY 1`,
			)
		},
		Rollback: func(tx *gorm.DB) error {
			return exec(tx,
				`DROP TRIGGER user_counts_truncate ON users`,
				`DROP TRIGGER user_counts_update ON users`,
				`DROP TRIGGER user_counts_delete ON users`,
				`DROP TRIGGER user_counts_insert ON users`,
				`DROP FUNCTION user_counts_clear()`,
				`DROP FUNCTION user_counts_move()`,
				`DROP FUNCTION user_counts_add()`,
				`DROP TABLE user_day_counts`,
				`DROP TABLE user_counts`,
			)
		},
	}
}
