package idempotency

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// createIdempotencyKeys is frozen SQL: never edit it once committed; add a new migration
// instead. A row is written in the transaction of the write it protects, with the response
// that write produced, so a replay returns exactly what was (or would have been) sent. Keys
// belong to a client (owner: a digest of its credentials), so two clients never collide.
func createIdempotencyKeys() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: "202611250003_create_idempotency_keys",
		Migrate: func(tx *gorm.DB) error {
			return exec(tx,
				`CREATE TABLE idempotency_keys (
					owner        text NOT NULL,
					key          text NOT NULL,
					request_hash bytea NOT NULL,
					status       integer NOT NULL,
					headers      jsonb NOT NULL DEFAULT '{}',
					body         bytea NOT NULL,
					created_at   timestamptz NOT NULL,
					expires_at   timestamptz NOT NULL,
					PRIMARY KEY (owner, key)
				)`,
				// The cleanup deletes expired keys in index order.
				`CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at)`,
			)
		},
		Rollback: func(tx *gorm.DB) error {
			return exec(tx, `DROP TABLE idempotency_keys`)
		},
	}
}
