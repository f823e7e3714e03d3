// Package pgxrepo is the performance suites' baseline: the users repository's operations on a
// raw pgxpool.Pool, sending the SQL text GORM sends for them (captured from the GORM
// repository; TestSameSQLAsGORM in tests/performance/bench keeps the two equal) in the same
// transaction shapes. It has none of the app's layers (retry, breaker, deadline, cursors,
// error translation): the difference between the two is what those and GORM cost.
package pgxrepo

// The statements, byte for byte as GORM renders them. pgbench scripts may replay them too.
const (
	SQLInsertUser = `INSERT INTO "users" ("id","username","email","full_name","version","created_at","updated_at","deleted_at","generation") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`
	// SQLInsertEvent is every event insert (GORM reads back the identity column).
	SQLInsertEvent = `INSERT INTO "user_events" ("user_id","action","changes","at") VALUES ($1,$2,$3,$4) RETURNING "id"`

	SQLGet            = `SELECT * FROM "users" WHERE id = $1 AND "users"."deleted_at" IS NULL LIMIT $2`
	SQLGetWithDeleted = `SELECT * FROM "users" WHERE id = $1 LIMIT $2`
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

	SQLUserExists = `SELECT count(*) FROM "users" WHERE id = $1`
	SQLEvents     = `SELECT * FROM "user_events" WHERE user_id = $1 ORDER BY id DESC LIMIT $2`
	SQLEventsNext = `SELECT * FROM "user_events" WHERE user_id = $1 AND (id) < ($2) ORDER BY id DESC LIMIT $3`

	SQLStatsCounts = `SELECT count(*) FILTER (WHERE deleted_at IS NULL) AS active,
			count(*) FILTER (WHERE deleted_at IS NOT NULL) AS deleted FROM users`
	SQLStatsPerDay = `
			SELECT to_char(d, 'YYYY-MM-DD') AS date, coalesce(c.count, 0) AS count
			FROM generate_series(
				((now() AT TIME ZONE 'UTC')::date - ($1::int - 1))::timestamp,
				(now() AT TIME ZONE 'UTC')::date::timestamp,
				interval '1 day') AS d
			LEFT JOIN (
				SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS count
				FROM users
				WHERE created_at >= ((now() AT TIME ZONE 'UTC')::date - ($2::int - 1))::timestamp AT TIME ZONE 'UTC'
					AND created_at < ((now() AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE 'UTC'
				GROUP BY 1
			) c ON c.day = d::date
			ORDER BY d`
)

// userColumns is the users table's column list in INSERT order.
var userColumns = []string{"id", "username", "email", "full_name", "version", "created_at", "updated_at", "deleted_at", "generation"}

// maxParams is PostgreSQL's limit of bind parameters in one statement.
const maxParams = 65535
