// Package pgxrepo is the performance suites' baseline: the users repository's operations on a
// raw pgxpool.Pool, sending the SQL text GORM sends for them (captured from the GORM
// repository; TestSameSQLAsGORM in tests/performance/bench keeps the two equal) in the same
// transaction shapes. It has none of the app's layers (retry, breaker, deadline, cursors,
// error translation): the difference between the two is what those and GORM cost.
package pgxrepo

// The statements, byte for byte as GORM renders them. pgbench scripts may replay them too.
const (
	SQLInsertUser = `INSERT INTO "users" ("id","username","email","full_name","version","created_at","updated_at","deleted_at","generation","email_key") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`
	// SQLInsertEvent is every event insert (GORM reads back the identity column).
	SQLInsertEvent = `INSERT INTO "user_events" ("user_id","action","changes","at","actor") VALUES ($1,$2,$3,$4,$5) RETURNING "id"`
	// SQLCreate is a registration: the user and its "created" event in one statement
	// (db.InsertBoth), inside the transaction.
	SQLCreate = `WITH first AS (` + SQLInsertUser + `) INSERT INTO "user_events" ("user_id","action","changes","at","actor") VALUES ($11,$12,$13,$14,$15) RETURNING "id"`

	// SQLGet and SQLGetWithDeleted are a get by id (db.ByID: named columns, no LIMIT).
	SQLGet            = SQLGetWithDeleted + ` AND "deleted_at" IS NULL`
	SQLGetWithDeleted = `SELECT "id", "username", "email", "full_name", "version", "created_at", "updated_at", "deleted_at", "generation" FROM "users" WHERE "id" = $1`
	// SQLReread reads a restored user back (GORM's Take).
	SQLReread = `SELECT * FROM "users" WHERE id = $1 AND "users"."deleted_at" IS NULL LIMIT $2`
	// SQLLock and SQLLockWithDeleted take the row lock a delete and a restore start with; an
	// update takes SQLLockNoKey, which leaves other modules' FOR KEY SHARE checks alone.
	SQLLock            = `SELECT * FROM "users" WHERE id = $1 AND "users"."deleted_at" IS NULL LIMIT $2 FOR UPDATE`
	SQLLockWithDeleted = `SELECT * FROM "users" WHERE id = $1 LIMIT $2 FOR UPDATE`
	SQLLockNoKey       = `SELECT * FROM "users" WHERE id = $1 AND "users"."deleted_at" IS NULL LIMIT $2 FOR NO KEY UPDATE`
	SQLUpdate          = `UPDATE "users" SET "username"=$1,"email"=$2,"full_name"=$3,"version"=$4,"updated_at"=$5 WHERE "users"."deleted_at" IS NULL AND "id" = $6`
	SQLDelete          = `UPDATE "users" SET "deleted_at"=$1,"updated_at"=$2,"version"=version + 1 WHERE id = $3 AND "users"."deleted_at" IS NULL`
	SQLRestore         = `UPDATE "users" SET "deleted_at"=$1,"generation"=generation + 1,"updated_at"=$2,"version"=version + 1 WHERE id = $3 AND "users"."deleted_at" IS NOT NULL`

	// Live users in keyset order (sort=created_at), as List sends them.
	SQLByUsername = `SELECT * FROM "users" WHERE lower(username) = $1 AND "users"."deleted_at" IS NULL ORDER BY created_at ASC, id ASC LIMIT $2`
	SQLByEmail    = `SELECT * FROM "users" WHERE lower(email) = $1 AND "users"."deleted_at" IS NULL ORDER BY created_at ASC, id ASC LIMIT $2`
	SQLPrefix     = `SELECT * FROM "users" WHERE (((lower(username) >= $1 AND lower(username) < $2) OR (lower(email) >= $3 AND lower(email) < $4))) AND "users"."deleted_at" IS NULL ORDER BY created_at ASC, id ASC LIMIT $5`
	SQLFirstPage  = `SELECT * FROM "users" WHERE "users"."deleted_at" IS NULL ORDER BY created_at ASC, id ASC LIMIT $1`
	SQLNextPage   = `SELECT * FROM "users" WHERE (created_at, id) > ($1, $2) AND "users"."deleted_at" IS NULL ORDER BY created_at ASC, id ASC LIMIT $3`
	// SQLOffsetPage is the OFFSET way to the same page (GORM's Offset renders it so).
	SQLOffsetPage = `SELECT * FROM "users" WHERE "users"."deleted_at" IS NULL ORDER BY created_at ASC, id ASC LIMIT $1 OFFSET $2`

	// Live users whose username or email starts with a prefix, in username order (keyset on
	// lower(username), id), first page and next: the username range in index order, the other
	// emails (users_email_lower_other_idx) and the usernames that are a proper prefix of the
	// search, each cut to the page, merged (users.searchByName explains the three sets).
	SQLPrefixByName     = `SELECT * FROM users WHERE id = ANY (ARRAY(SELECT id FROM ((SELECT id, lower(username) AS name FROM users WHERE lower(username) >= $1 AND lower(username) < $2 AND deleted_at IS NULL ORDER BY lower(username), id LIMIT $3) UNION ALL (SELECT id, name FROM (SELECT id, lower(username) AS name FROM users WHERE lower(email) ~>=~ $4 AND lower(email) ~<~ $5 AND NOT starts_with(lower(email), lower(username)) AND NOT (lower(username) >= $6 AND lower(username) < $7) AND deleted_at IS NULL OFFSET 0) AS other ORDER BY name, id LIMIT $8) UNION ALL (SELECT id, name FROM (SELECT id, lower(username) AS name FROM users WHERE lower(username) = ANY (ARRAY(SELECT left($9::text, n) FROM generate_series(1, length($10::text) - 1) AS n)) AND lower(email) >= $11 AND lower(email) < $12 AND deleted_at IS NULL OFFSET 0) AS shorter ORDER BY name, id LIMIT $13)) AS found ORDER BY name, id LIMIT $14)) ORDER BY lower(username), id`
	SQLPrefixByNameNext = `SELECT * FROM users WHERE id = ANY (ARRAY(SELECT id FROM ((SELECT id, lower(username) AS name FROM users WHERE lower(username) >= $1 AND lower(username) < $2 AND deleted_at IS NULL AND (lower(username), id) > ($3, $4) ORDER BY lower(username), id LIMIT $5) UNION ALL (SELECT id, name FROM (SELECT id, lower(username) AS name FROM users WHERE lower(email) ~>=~ $6 AND lower(email) ~<~ $7 AND NOT starts_with(lower(email), lower(username)) AND NOT (lower(username) >= $8 AND lower(username) < $9) AND deleted_at IS NULL AND (lower(username), id) > ($10, $11) OFFSET 0) AS other ORDER BY name, id LIMIT $12) UNION ALL (SELECT id, name FROM (SELECT id, lower(username) AS name FROM users WHERE lower(username) = ANY (ARRAY(SELECT left($13::text, n) FROM generate_series(1, length($14::text) - 1) AS n)) AND lower(email) >= $15 AND lower(email) < $16 AND deleted_at IS NULL AND (lower(username), id) > ($17, $18) OFFSET 0) AS shorter ORDER BY name, id LIMIT $19)) AS found ORDER BY name, id LIMIT $20)) ORDER BY lower(username), id`

	SQLUserExists = `SELECT count(*) FROM "users" WHERE id = $1`
	SQLEvents     = `SELECT * FROM "user_events" WHERE user_id = $1 ORDER BY id DESC LIMIT $2`
	SQLEventsNext = `SELECT * FROM "user_events" WHERE user_id = $1 AND (id) < ($2) ORDER BY id DESC LIMIT $3`

	// The stats read the counters that triggers on users keep (user_counts, user_day_counts):
	// the totals with the database's UTC date, then the days of the window (user_day_counts
	// and the shards' slots in user_counts).
	SQLStatsCounts = `SELECT coalesce(sum(live), 0)::bigint AS active, coalesce(sum(deleted), 0)::bigint AS deleted, (now() AT TIME ZONE 'UTC')::date AS today FROM "user_counts"`
	SQLStatsPerDay = `SELECT day, sum(created)::bigint AS created FROM (SELECT day, created FROM user_day_counts WHERE day >= $1 AND day <= $2 UNION ALL SELECT day, day_created FROM user_counts WHERE day >= $3 AND day <= $4) AS counted GROUP BY day`
)

// userColumns is the users table's column list in INSERT order.
var userColumns = []string{"id", "username", "email", "full_name", "version", "created_at", "updated_at", "deleted_at", "generation", "email_key"}

// maxParams is PostgreSQL's limit of bind parameters in one statement.
const maxParams = 65535
