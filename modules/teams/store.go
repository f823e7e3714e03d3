package teams

import (
	"cmp"
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"usersvc/modules/users/userapi"
	"usersvc/platform/actor"
	"usersvc/platform/apperr"
	"usersvc/platform/db"
	"usersvc/platform/entity"
	"usersvc/platform/events"
)

// store keeps teams and their members; teams' own rows come from platform/entity.
type store struct {
	*entity.Store[Team, *Team, Event]
	db    db.Transactor
	users userapi.Directory
}

func newStore(d db.Transactor, cursors *db.Cursors, users userapi.Directory) *store {
	return &store{db: d, users: users, Store: entity.NewStore[Team](d, cursors, entity.Kind[Team, Event]{
		Module: "teams", Name: "team", Unique: map[string]string{"teams_name_lower_key": "name"}, AuditOwner: "team_id",
		Audit: func(id uuid.UUID, action string, c entity.Changes, at time.Time, actor string) Event {
			return Event{TeamID: id, Action: action, Changes: c, At: at, Actor: actor}
		},
	})}
}

// Create stores a new team and its "created" event; ErrConflict when a live team has the
// name (case-insensitively).
func (s *store) Create(ctx context.Context, in Input) (*Team, error) {
	return s.Insert(ctx, func(id uuid.UUID, at time.Time) *Team {
		return &Team{ID: id, Name: in.Name, Description: in.Description, Version: 1, CreatedAt: at, UpdatedAt: at}
	}, func(t *Team) entity.Changes { return entity.Changes{"name": t.Name, "description": t.Description} })
}

// Update changes a live team at version ifVersion (0: any).
func (s *store) Update(ctx context.Context, id uuid.UUID, ifVersion int, p Patch) (*Team, error) {
	return s.Store.Update(ctx, id, ifVersion, func(_ *gorm.DB, t *Team) (entity.Changes, error) {
		return entity.Apply(entity.Field{Name: "name", Dst: &t.Name, New: p.Name},
			entity.Field{Name: "description", Dst: &t.Description, New: p.Description}), nil
	}, "name", "description")
}

// keysets are the orders a list can have, each matching an index.
var keysets = func() map[string]db.Keyset[Team] {
	asc, desc := entity.CreatedKeysets(func(t *Team) time.Time { return t.CreatedAt }, func(t *Team) uuid.UUID { return t.ID })
	return map[string]db.Keyset[Team]{SortCreated: asc, SortCreatedDesc: desc,
		SortName: entity.NameKeyset("name", func(t *Team) string { return t.Name }, func(t *Team) uuid.UUID { return t.ID })}
}()

// List returns one keyset page; ErrNotFound when ListQuery.Member is no live user.
func (s *store) List(ctx context.Context, q ListQuery) (db.Page[Team], error) {
	if q.Member != uuid.Nil {
		if err := s.requireLiveUser(ctx, q.Member); err != nil {
			return db.Page[Team]{}, err
		}
	}
	return s.Page(ctx, q.List, keysets, []string{db.ASCIILower(q.Q), q.Member.String()}, func(tx *gorm.DB) *gorm.DB {
		if q.Q != "" {
			lo, hi := db.PrefixRange(db.ASCIILower(q.Q))
			tx = tx.Where("lower(name) >= ? AND lower(name) < ?", lo, hi)
		}
		if q.Member != uuid.Nil {
			tx = tx.Where("id IN (?)", visible(tx).Select("m.team_id").Where("m.user_id = ?", q.Member))
		}
		return tx
	})
}

// visible selects the memberships (as m) whose user is live in the generation they were
// added in: the users module's published view decides, so a deleted user's memberships are
// hidden from the moment the delete commits, and a restored user's old ones stay hidden.
func visible(tx *gorm.DB) *gorm.DB {
	return tx.Session(&gorm.Session{NewDB: true}).Table("team_members AS m").
		Joins("JOIN " + userapi.View + " u ON u.id = m.user_id AND u.generation = m.user_generation")
}

// requireLiveUser is ErrNotFound naming the user unless the users module shows it live.
func (s *store) requireLiveUser(ctx context.Context, user uuid.UUID) error {
	var n int64
	err := s.db.Read(ctx, func(tx *gorm.DB) error { return tx.Table(userapi.View).Where("id = ?", user).Count(&n).Error })
	if err == nil && n == 0 {
		return apperr.NotFound("user %s not found", user)
	}
	return err
}

// memberKeyset orders members newest first.
var memberKeyset = db.Keyset[Member]{Columns: []string{"m.added_at", "m.user_id"}, Desc: true,
	Values:  func(m *Member) []any { return []any{m.AddedAt, m.UserID} },
	Targets: func() []any { return []any{new(time.Time), new(uuid.UUID)} },
}

// Members returns a page of a live team's members, newest first.
func (s *store) Members(ctx context.Context, team uuid.UUID, cursor string, limit int) (db.Page[Member], error) {
	return entity.ChildPage(ctx, s.Store, team, false, memberKeyset, func(tx *gorm.DB) *gorm.DB {
		return visible(tx).Select("m.*").Where("m.team_id = ?", team)
	}, "_members", cursor, limit)
}

// AddMember makes a live user a member of a live team, with role ("" keeps an existing
// member's role, or is "member"); added is false when the user was a member already. The
// team and the user are locked FOR KEY SHARE until commit: a concurrent delete of either
// waits, and one that committed first makes this fail.
func (s *store) AddMember(ctx context.Context, team, user uuid.UUID, role string) (*Member, bool, error) {
	var m Member
	var added bool
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		if err := entity.Lock(tx, team, &Team{}, "KEY SHARE", false); err != nil {
			return err
		}
		gen, err := s.users.LockLive(db.WithTx(ctx, tx), user)
		if err != nil {
			return err
		}
		m = Member{TeamID: team, UserID: user, UserGeneration: int(gen), Role: cmp.Or(role, "member"), AddedAt: s.Now()}
		var prev Member
		switch err := tx.Where("team_id = ? AND user_id = ? AND user_generation = ?", team, user, gen).Take(&prev).Error; {
		case errors.Is(err, gorm.ErrRecordNotFound): // new, or a member in an earlier life of the user
			added = true
			return s.saveMember(tx, &m, MemberAdded, entity.Changes{"user_id": user, "role": m.Role})
		case err != nil:
			return err
		case role == "" || role == prev.Role:
			m, added = prev, false
			return nil // a member already, as asked
		}
		m.AddedAt, added = prev.AddedAt, false
		return s.saveMember(tx, &m, MemberChanged, entity.Changes{"user_id": user, "role": map[string]string{"from": prev.Role, "to": role}})
	})
	if err != nil {
		return nil, false, s.Failed("add member", err, team)
	}
	return &m, added, nil
}

// saveMember inserts or replaces m, with its audit row.
func (s *store) saveMember(tx *gorm.DB, m *Member, action string, c entity.Changes) error {
	if err := tx.Clauses(clause.OnConflict{UpdateAll: true}).Create(m).Error; err != nil {
		return err
	}
	return s.Audit(tx, m.TeamID, action, c)
}

// RemoveMember ends a membership; ErrNotFound when the user is no member.
func (s *store) RemoveMember(ctx context.Context, team, user uuid.UUID) error {
	err := s.db.Transact(ctx, func(tx *gorm.DB) error {
		if err := entity.Lock(tx, team, &Team{}, "KEY SHARE", false); err != nil {
			return err
		}
		res := tx.Exec(`DELETE FROM team_members m USING `+userapi.View+` u
			WHERE m.team_id = ? AND m.user_id = ? AND u.id = m.user_id AND u.generation = m.user_generation`, team, user)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return apperr.NotFound("user %s is not a member of team %s", user, team)
		}
		return s.Audit(tx, team, MemberRemoved, entity.Changes{"user_id": user})
	})
	return s.Failed("remove member", err, team)
}

// userDeleted handles userapi.Deleted: the memberships of the life that ended go, each with a
// member_removed event of its team. Handled once per event (events' receipts); removing
// again would find nothing anyway.
func (s *store) userDeleted(ctx context.Context, ev events.Event) error {
	var c userapi.Changed
	if err := ev.Decode(&c); err != nil {
		return err
	}
	return s.db.Transact(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`WITH gone AS (
				DELETE FROM team_members WHERE user_id = ? AND user_generation <= ? RETURNING team_id, user_id)
			INSERT INTO team_events (team_id, action, changes, at, actor)
			SELECT team_id, ?, jsonb_build_object('user_id', user_id, 'reason', 'user deleted'), ?, ? FROM gone`,
			c.UserID, c.Generation, MemberRemoved, s.Now(), actor.From(ctx)).Error // the user's deleter
	})
}
