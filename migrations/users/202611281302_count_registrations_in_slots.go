package users

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// countRegistrationsInSlots is frozen SQL: never edit it once committed; add a new migration
// instead.
//
// A registration cost two counter rows (user_counts and the day's user_day_counts row):
// about 85 µs of PostgreSQL time per single-row INSERT, the price of the row updates. Each
// shard's user_counts row now also holds a slot, the registrations of one day (day,
// day_created) not yet moved to user_day_counts: an INSERT statement whose users were all
// created on the slot's day updates that one row (about 55 µs). The first registration of
// another day moves the slot's count to user_day_counts and takes the slot over (once per
// shard and day, or when writers' clocks disagree around midnight). Other statements (a bulk
// load over many days, a hard delete) write user_day_counts as before. A day's registrations
// are the sum of its user_day_counts rows and of the slots holding it, read in one statement.
//
// Down moves every slot's count back to user_day_counts, under the lock that keeps writers
// of users out, then restores the function of 202611281301_count_users.
func countRegistrationsInSlots() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: "202611281302_count_registrations_in_slots",
		Migrate: func(tx *gorm.DB) error {
			return exec(tx,
				`LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE`,
				`ALTER TABLE user_counts ADD COLUMN day date, ADD COLUMN day_created bigint NOT NULL DEFAULT 0`,
				`CREATE OR REPLACE FUNCTION user_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
				DECLARE
					own_shard CONSTANT smallint := pg_backend_pid() % 16;
					direction CONSTANT bigint := CASE TG_OP WHEN 'DELETE' THEN -1 ELSE 1 END;
					n_live bigint;
					n_deleted bigint;
					first_day date;
					last_day date;
					slot_day date;
					slot_created bigint;
				BEGIN
					SELECT direction * count(*) FILTER (WHERE deleted_at IS NULL),
						direction * count(*) FILTER (WHERE deleted_at IS NOT NULL),
						min((created_at AT TIME ZONE 'UTC')::date), max((created_at AT TIME ZONE 'UTC')::date)
					INTO n_live, n_deleted, first_day, last_day FROM changed;
					IF first_day IS NULL THEN
						RETURN NULL; -- no row
					END IF;
					IF TG_OP = 'INSERT' AND first_day = last_day THEN
						UPDATE user_counts SET live = live + n_live, deleted = deleted + n_deleted,
							day_created = day_created + n_live + n_deleted
						WHERE shard = own_shard AND day = first_day;
						IF FOUND THEN
							RETURN NULL;
						END IF;
						-- The slot holds another day, or the shard has no row yet.
						INSERT INTO user_counts (shard) VALUES (own_shard)
						ON CONFLICT ON CONSTRAINT user_counts_pkey DO NOTHING;
						SELECT day, day_created INTO slot_day, slot_created
						FROM user_counts WHERE shard = own_shard FOR UPDATE;
						IF slot_day IS DISTINCT FROM first_day AND slot_created <> 0 THEN
							INSERT INTO user_day_counts AS c (day, shard, created) VALUES (slot_day, own_shard, slot_created)
							ON CONFLICT ON CONSTRAINT user_day_counts_pkey
								DO UPDATE SET created = c.created + excluded.created;
						END IF;
						UPDATE user_counts SET live = live + n_live, deleted = deleted + n_deleted,
							day_created = CASE WHEN day = first_day THEN day_created ELSE 0 END + n_live + n_deleted,
							day = first_day
						WHERE shard = own_shard;
						RETURN NULL;
					END IF;
					INSERT INTO user_counts AS c (shard, live, deleted) VALUES (own_shard, n_live, n_deleted)
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
			)
		},
		Rollback: func(tx *gorm.DB) error {
			return exec(tx,
				`LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE`,
				`INSERT INTO user_day_counts AS c (day, shard, created)
					SELECT day, shard, day_created FROM user_counts WHERE day_created <> 0 ORDER BY day, shard
				ON CONFLICT ON CONSTRAINT user_day_counts_pkey DO UPDATE SET created = c.created + excluded.created`,
				// The function of 202611281301_count_users, as it was.
				`CREATE OR REPLACE FUNCTION user_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
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
				`ALTER TABLE user_counts DROP COLUMN day_created, DROP COLUMN day`,
			)
		},
	}
}
