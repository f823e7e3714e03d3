package teams

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// createTeamMembers is frozen SQL: never edit it once committed; add a new migration instead.
//
// user_id is the users module's id, without a foreign key: modules own their tables, and no
// constraint crosses between them. Integrity comes from the users contract instead: adding a
// member locks the live user (FOR KEY SHARE), a membership shows only while the user is live
// in the generation it was added in (the user_directory view), and user.deleted events remove
// the rows.
func createTeamMembers() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: "202611281202_create_team_members",
		Migrate: func(tx *gorm.DB) error {
			return exec(tx,
				`CREATE TABLE team_members (
					team_id         uuid NOT NULL REFERENCES teams (id),
					user_id         uuid NOT NULL,
					user_generation integer NOT NULL,
					role            text NOT NULL
						CONSTRAINT team_members_role_check CHECK (role IN ('member', 'maintainer')),
					added_at        timestamptz NOT NULL,
					PRIMARY KEY (team_id, user_id)
				)`,
				// A team's members newest first, in keyset pages.
				`CREATE INDEX team_members_team_id_added_at_user_id_idx ON team_members (team_id, added_at, user_id)`,
				// A user's teams, and the removal of a deleted user's memberships.
				`CREATE INDEX team_members_user_id_idx ON team_members (user_id)`,
			)
		},
		Rollback: func(tx *gorm.DB) error {
			return exec(tx, `DROP TABLE team_members`)
		},
	}
}
