package teams

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"usersvc/platform/entity"
	"usersvc/platform/web"
)

// resource renders a team (its model, which carries the JSON tags) with its version as ETag.
var resource = web.Resource[*Team]{
	Version: func(t *Team) int { return t.Version },
	JSON:    func(t *Team) any { return t },
}

func asJSON(m *Member) *Member { return m }

// list serves GET /teams (q: name prefix; member: a user's teams).
func list(s *store) echo.HandlerFunc {
	return func(c echo.Context) error {
		l, q, err := entity.ParseList(c, []string{SortCreated, SortCreatedDesc, SortName}, "q", "member")
		if err != nil {
			return err
		}
		lq := ListQuery{List: l, Q: q.Get("q")}
		if m := q.Get("member"); m != "" {
			if lq.Member, err = web.ParseUUID("member", m); err != nil {
				return err
			}
		}
		page, err := s.List(c.Request().Context(), lq)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, web.NewPage(page.Items, page.Next, func(t *Team) *Team { return t }))
	}
}

// addMember serves PUT /teams/:id/members/:user_id, with an optional {"role": …}: 201 when
// the user became a member, 200 when it was one.
func addMember(s *store) echo.HandlerFunc {
	return func(c echo.Context) error {
		team, err := web.PathUUID(c, "id")
		if err != nil {
			return err
		}
		user, err := web.PathUUID(c, "user_id")
		var body struct {
			Role string `json:"role"`
		}
		if err == nil {
			err = web.DecodeOptionalBody(c, &body)
		}
		if err == nil {
			err = checkRole(body.Role)
		}
		if err != nil {
			return err
		}
		m, added, err := s.AddMember(c.Request().Context(), team, user, body.Role)
		if err != nil {
			return err
		}
		return c.JSON(map[bool]int{true: http.StatusCreated, false: http.StatusOK}[added], m)
	}
}
