package teams

import (
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"usersvc/platform/apperr"
	"usersvc/platform/entity"
	"usersvc/platform/web"
)

// teamJSON is a team as the API shows it.
type teamJSON struct {
	ID          uuid.UUID  `json:"id"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Version     int        `json:"version"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	DeletedAt   *time.Time `json:"deleted_at"`
}

// memberJSON is a membership as the API shows it.
type memberJSON struct {
	TeamID  uuid.UUID `json:"team_id"`
	UserID  uuid.UUID `json:"user_id"`
	Role    string    `json:"role"`
	AddedAt time.Time `json:"added_at"`
}

// resource renders a team with its version as ETag.
var resource = web.Resource[*Team]{
	Version: func(t *Team) int { return t.Version },
	JSON:    func(t *Team) any { return toJSON(t) },
}

func toJSON(t *Team) teamJSON {
	out := teamJSON{ID: t.ID, Name: t.Name, Description: t.Description, Version: t.Version,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
	if t.DeletedAt.Valid {
		out.DeletedAt = &t.DeletedAt.Time
	}
	return out
}

func memberToJSON(m *Member) memberJSON {
	return memberJSON{TeamID: m.TeamID, UserID: m.UserID, Role: m.Role, AddedAt: m.AddedAt}
}

// handlers serve what platform/web and platform/entity do not serve for every entity.
type handlers struct{ repo Repository }

// list serves GET /teams (q: name prefix; member: a user's teams).
func (h handlers) list(c echo.Context) error {
	l, q, err := entity.ParseList(c, []string{SortCreated, SortCreatedDesc, SortName}, "q", "member")
	if err != nil {
		return err
	}
	lq := ListQuery{List: l, Q: q.Get("q")}
	if m := q.Get("member"); m != "" {
		if lq.Member, err = uuid.Parse(m); err != nil {
			return apperr.Invalid("member %q is not a UUID", m)
		}
	}
	if len(lq.Q) > 64 {
		return apperr.Invalid("q is longer than 64 characters")
	}
	page, err := h.repo.List(c.Request().Context(), lq)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, web.NewPage(page.Items, page.Next, toJSON))
}

// addMember serves PUT /teams/:id/members/:user_id, with an optional {"role": …}: 201 when
// the user became a member, 200 when it was one.
func (h handlers) addMember(c echo.Context) error {
	team, user, err := memberPath(c)
	if err != nil {
		return err
	}
	var body struct {
		Role string `json:"role"`
	}
	if c.Request().ContentLength != 0 {
		if err := web.DecodeBody(c, &body); err != nil {
			return err
		}
	} else if _, err := web.Query(c); err != nil {
		return err
	}
	if err := checkRole(body.Role); err != nil {
		return err
	}
	m, added, err := h.repo.AddMember(c.Request().Context(), team, user, body.Role)
	if err != nil {
		return err
	}
	return c.JSON(map[bool]int{true: http.StatusCreated, false: http.StatusOK}[added], memberToJSON(m))
}

// removeMember serves DELETE /teams/:id/members/:user_id.
func (h handlers) removeMember(c echo.Context) error {
	team, user, err := memberPath(c)
	if err == nil {
		_, err = web.Query(c)
	}
	if err == nil {
		err = h.repo.RemoveMember(c.Request().Context(), team, user)
	}
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// members serves GET /teams/:id/members, newest first.
func (h handlers) members(c echo.Context) error {
	team, err := web.PathUUID(c, "id")
	if err != nil {
		return err
	}
	q, err := web.Query(c, "limit", "cursor")
	if err != nil {
		return err
	}
	limit, err := web.IntParam(q, "limit", 25, 1, 100)
	if err != nil {
		return err
	}
	page, err := h.repo.Members(c.Request().Context(), team, q.Get("cursor"), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, web.NewPage(page.Items, page.Next, memberToJSON))
}

func memberPath(c echo.Context) (team, user uuid.UUID, err error) {
	if team, err = web.PathUUID(c, "id"); err == nil {
		user, err = web.PathUUID(c, "user_id")
	}
	return team, user, err
}
