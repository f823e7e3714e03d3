package users

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// indexUserEmailsApart is frozen SQL: never edit it once committed; add a new migration instead.
//
// users_email_lower_other_idx holds only the users whose email does not start with their own
// username. A search sorted by username (q matches username or email) reads the username
// range in index order and needs, from the email side, only the users outside that range;
// an email matching the prefix that starts with its own username belongs to a user whose
// username is either in the range already or a proper prefix of the search (a handful of
// exact lookups). Only the other emails are left to read and sort, and this index holds
// exactly them, with every column the search reads, so that is an index-only scan. Where
// emails start with usernames (ada / ada.lovelace@…) it stays small.
func indexUserEmailsApart() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: "202611281300_index_user_emails_apart",
		Migrate: func(tx *gorm.DB) error {
			return exec(tx,
				`CREATE INDEX users_email_lower_other_idx ON users (lower(email))
					INCLUDE (id, username, email, deleted_at)
					WHERE NOT starts_with(lower(email), lower(username))`,
			)
		},
		Rollback: func(tx *gorm.DB) error {
			return exec(tx, `DROP INDEX users_email_lower_other_idx`)
		},
	}
}
