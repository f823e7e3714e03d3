package teams

import (
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"usersvc/platform/entity"
)

// Team is the teams table, and a team as the API shows it. The gorm tags describe the schema
// the migrations build, for the schema drift test; the migrations, not these tags, create it.
type Team struct {
	ID          uuid.UUID      `json:"id" gorm:"type:uuid;primaryKey;index:teams_name_lower_id_idx,priority:2;index:teams_created_at_id_idx,priority:2"`
	Name        string         `json:"name" gorm:"type:text COLLATE \"C\";not null;index:teams_name_lower_key,unique,expression:lower(name),where:deleted_at IS NULL;index:teams_name_lower_id_idx,priority:1,expression:lower(name)"`
	Description string         `json:"description" gorm:"type:text;not null;default:''"`
	Version     int            `json:"version" gorm:"type:integer;not null;default:1"`
	CreatedAt   time.Time      `json:"created_at" gorm:"type:timestamptz;not null;index:teams_created_at_id_idx,priority:1"`
	UpdatedAt   time.Time      `json:"updated_at" gorm:"type:timestamptz;not null"`
	DeletedAt   gorm.DeletedAt `json:"deleted_at" gorm:"type:timestamptz"`
}

// EntityID is what platform/entity needs of a team, with EntityVersion, ChangedAt and Touch.
func (t *Team) EntityID() uuid.UUID { return t.ID }

// EntityVersion is the team's version.
func (t *Team) EntityVersion() int { return t.Version }

// ChangedAt is when the team last changed.
func (t *Team) ChangedAt() time.Time { return t.UpdatedAt }

// Touch records a change at at.
func (t *Team) Touch(at time.Time) { t.Version, t.UpdatedAt = t.Version+1, at }

// The audit actions of memberships, besides entity's created, updated, deleted, restored.
const (
	MemberAdded   = "member_added"
	MemberChanged = "member_changed"
	MemberRemoved = "member_removed"
)

// Event is one row of a team's audit trail (team_events).
type Event struct {
	ID      int64          `gorm:"type:bigint;primaryKey;autoIncrement;generated:identity always;index:team_events_team_id_id_idx,priority:2,sort:desc"`
	TeamID  uuid.UUID      `gorm:"type:uuid;not null;index:team_events_team_id_id_idx,priority:1"`
	Team    *Team          `gorm:"foreignKey:TeamID" json:"-"`
	Action  string         `gorm:"type:text;not null;check:team_events_action_check,action IN ('created', 'updated', 'deleted', 'restored', 'member_added', 'member_changed', 'member_removed')"`
	Changes entity.Changes `gorm:"type:jsonb;not null;default:'{}'"`
	At      time.Time      `gorm:"type:timestamptz;not null"`
	// Actor is who made the change: the name of the API token (package actor).
	Actor string `gorm:"type:text;not null;check:team_events_actor_check,actor <> ''"`
}

// TableName pins the table name the migrations created.
func (Event) TableName() string { return "team_events" }

// Entry is the event as the API shows it.
func (e Event) Entry() entity.Entry {
	return entity.Entry{ID: e.ID, Action: e.Action, Actor: e.Actor, Changes: e.Changes, At: e.At}
}

// Member is one user's membership of a team (team_members), and as the API shows it. It
// belongs to the user's generation it was added in: it shows only while the users module's
// view has the user live in that generation.
type Member struct {
	TeamID         uuid.UUID `json:"team_id" gorm:"type:uuid;primaryKey;index:team_members_team_id_added_at_user_id_idx,priority:1"`
	Team           *Team     `json:"-" gorm:"foreignKey:TeamID"`
	UserID         uuid.UUID `json:"user_id" gorm:"type:uuid;primaryKey;index:team_members_team_id_added_at_user_id_idx,priority:3;index:team_members_user_id_idx"`
	UserGeneration int       `json:"-" gorm:"type:integer;not null"`
	Role           string    `json:"role" gorm:"type:text;not null;check:team_members_role_check,role IN ('member', 'maintainer')"`
	AddedAt        time.Time `json:"added_at" gorm:"type:timestamptz;not null;index:team_members_team_id_added_at_user_id_idx,priority:2"`
}

// TableName pins the table name the migrations created.
func (Member) TableName() string { return "team_members" }
