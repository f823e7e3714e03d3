package users

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// keyUserEmails is frozen SQL: never edit it once committed; add a new migration instead.
//
// email_key is the uniqueness key of a user's email (issue 10, finding 2): the users module
// computes it when it stores an email (case-folded, normalised local part, "@", the domain's
// lowercase A-labels; see modules/users/email.go), and users_email_key_key makes it unique
// among live users. users_email_lower_key stays as it is: live prefix search and exact lookup
// read it, and it refuses nothing the key allows (two emails the module stores that differ
// only in ASCII case have one key), while it still guards the rows stored before.
//
// Rows stored before get lower(email) as their key, ASCII lowercase, which is exactly how the
// old unique index compared them; so the new index is as strict as the old one on those rows
// and cannot fail to build. For an all-ASCII email that is the key the module computes; for a
// non-ASCII one it may not be (a stored "Ärger@…" has the key "Ärger@…", the module's key
// for it is "ärger@…"), so a look-alike of a non-ASCII email stored before can still be
// registered. Their stored emails are not rewritten either. Re-keying them needs today's
// normaliser, which a migration must not import (find them with
// SELECT id, email FROM users WHERE email ~ '[^[:ascii:]]').
//
// Writers that do not know the column (a hand-written INSERT, COPY, an older instance during
// a rolling deploy) get the same lower(email) key from a trigger that fires only when
// email_key is left NULL, also under session_replication_role = replica; the module always
// sets it. An UPDATE of email must set email_key too: nothing recomputes it.
//
// The backfill rewrites every row under the ACCESS EXCLUSIVE lock of ADD COLUMN, taken
// first, so no writer slips a row in between. Down forgets the keys: Up again gives every
// row lower(email), like rows stored before.
func keyUserEmails() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: "202611281800_key_user_emails",
		Migrate: func(tx *gorm.DB) error {
			return exec(tx,
				`ALTER TABLE users ADD COLUMN email_key text COLLATE "C"`,
				`UPDATE users SET email_key = lower(email)`,
				`ALTER TABLE users ALTER COLUMN email_key SET NOT NULL`,
				`CREATE FUNCTION users_email_key_default() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN
					NEW.email_key := lower(NEW.email);
					RETURN NEW;
				END
				$$`,
				`CREATE TRIGGER users_email_key_default BEFORE INSERT ON users FOR EACH ROW
					WHEN (NEW.email_key IS NULL) EXECUTE FUNCTION users_email_key_default()`,
				`ALTER TABLE users ENABLE ALWAYS TRIGGER users_email_key_default`,
				`CREATE UNIQUE INDEX users_email_key_key ON users (email_key) WHERE deleted_at IS NULL`,
			)
		},
		Rollback: func(tx *gorm.DB) error {
			return exec(tx,
				`DROP INDEX users_email_key_key`,
				`DROP TRIGGER users_email_key_default ON users`,
				`DROP FUNCTION users_email_key_default()`,
				`ALTER TABLE users DROP COLUMN email_key`,
			)
		},
	}
}
