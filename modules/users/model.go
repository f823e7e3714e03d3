package users

import (
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"usersvc/platform/entity"
)

// User is the users table. The tags describe the schema the migrations build, so the schema
// drift test can compare the two; the migrations, not these tags, create the schema.
type User struct {
	ID        uuid.UUID      `gorm:"type:uuid;primaryKey;index:users_username_lower_id_idx,priority:2;index:users_email_lower_id_idx,priority:2;index:users_created_at_id_idx,priority:2"`
	Username  string         `gorm:"type:text COLLATE \"C\";not null;index:users_username_lower_key,unique,expression:lower(username),where:deleted_at IS NULL;index:users_username_lower_id_idx,priority:1,expression:lower(username)"`
	Email     string         `gorm:"type:text COLLATE \"C\";not null;index:users_email_lower_key,unique,expression:lower(email),where:deleted_at IS NULL;index:users_email_lower_id_idx,priority:1,expression:lower(email);index:users_email_lower_other_idx,expression:lower(email) text_pattern_ops,option:INCLUDE (id\\, username\\, email\\, deleted_at),where:NOT starts_with(lower(email)\\, lower(username))"`
	FullName  string         `gorm:"type:text;not null;default:''"`
	Version   int            `gorm:"type:integer;not null;default:1"`
	CreatedAt time.Time      `gorm:"type:timestamptz;not null;index:users_created_at_id_idx,priority:1"`
	UpdatedAt time.Time      `gorm:"type:timestamptz;not null"`
	DeletedAt gorm.DeletedAt `gorm:"type:timestamptz"`
	// Generation counts the user's lives: it grows at each restore (see userapi.Generation).
	Generation int `gorm:"type:integer;not null;default:1"`
	// EmailKey is the email's uniqueness key (canonicalEmail): unique among live users, never
	// shown. It is written with the email and never read back (a user read from the table has
	// it empty): only the unique index and the batch's conflict check look at it. Rows stored
	// before migration 202611281800_key_user_emails have lower(email).
	EmailKey string `gorm:"->:false;<-;type:text COLLATE \"C\";not null;index:users_email_key_key,unique,where:deleted_at IS NULL" json:"-"`
}

// Event actions, as stored in user_events.action.
const (
	ActionCreated  = entity.Created
	ActionUpdated  = entity.Updated
	ActionDeleted  = entity.Deleted
	ActionRestored = entity.Restored
)

// EntityID, EntityVersion, ChangedAt and Touch are what platform/entity needs of a user.
func (u *User) EntityID() uuid.UUID { return u.ID }

// EntityVersion is the user's version.
func (u *User) EntityVersion() int { return u.Version }

// ChangedAt is when the user last changed.
func (u *User) ChangedAt() time.Time { return u.UpdatedAt }

// Touch records a change at at.
func (u *User) Touch(at time.Time) { u.Version, u.UpdatedAt = u.Version+1, at }

// Event is one row of a user's audit trail (user_events), written in the transaction of the
// change it records.
type Event struct {
	ID      int64          `gorm:"type:bigint;primaryKey;autoIncrement;generated:identity always;index:user_events_user_id_id_idx,priority:2,sort:desc"`
	UserID  uuid.UUID      `gorm:"type:uuid;not null;index:user_events_user_id_id_idx,priority:1"`
	User    *User          `gorm:"foreignKey:UserID" json:"-"`
	Action  string         `gorm:"type:text;not null;check:user_events_action_check,action IN ('created', 'updated', 'deleted', 'restored')"`
	Changes entity.Changes `gorm:"type:jsonb;not null;default:'{}'"`
	At      time.Time      `gorm:"type:timestamptz;not null"`
	// Actor is who made the change: the name of the API token (package actor).
	Actor string `gorm:"type:text;not null;check:user_events_actor_check,actor <> ''"`
}

// TableName pins the table name the migrations created.
func (Event) TableName() string { return "user_events" }

// Entry is the event as the API shows it.
func (e Event) Entry() entity.Entry {
	return entity.Entry{ID: e.ID, Action: e.Action, Actor: e.Actor, Changes: e.Changes, At: e.At}
}
