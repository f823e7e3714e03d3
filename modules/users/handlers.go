package users

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"usersvc/platform/apperr"
	"usersvc/platform/entity"
	"usersvc/platform/web"
)

// maxBatch bounds POST /users/batch: one transaction, one multi-row INSERT.
const maxBatch = 1000

// statsDays is how many days GET /users/stats reports registrations for.
const statsDays = 30

// handlers serve the users API over a Repository.
type handlers struct {
	repo Repository
}

// userJSON is a user as the API shows it.
type userJSON struct {
	ID        uuid.UUID  `json:"id"`
	Username  string     `json:"username"`
	Email     string     `json:"email"`
	FullName  string     `json:"full_name"`
	Version   int        `json:"version"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	DeletedAt *time.Time `json:"deleted_at"`
}

// resource renders a user with its version as ETag.
var resource = web.Resource[*User]{
	Version: func(u *User) int { return u.Version },
	JSON:    func(u *User) any { return toJSON(u) },
}

func toJSON(u *User) userJSON {
	out := userJSON{ID: u.ID, Username: u.Username, Email: u.Email, FullName: u.FullName,
		Version: u.Version, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
	if u.DeletedAt.Valid {
		t := u.DeletedAt.Time
		out.DeletedAt = &t
	}
	return out
}

func (h *handlers) registerBatch(c echo.Context) error {
	if _, err := web.Query(c); err != nil {
		return err
	}
	body, err := web.ReadJSON(c)
	if err != nil {
		return err
	}
	var req struct {
		Users []json.RawMessage `json:"users"` // decoded one by one, so errors name users[i]
	}
	if err := web.DecodeObject(body, &req, ""); err != nil {
		return err
	}
	switch {
	case len(req.Users) == 0:
		return apperr.Invalid("users must hold 1 to %d registrations", maxBatch)
	case len(req.Users) > maxBatch:
		return apperr.Invalid("users holds %d registrations; at most %d are allowed per batch", len(req.Users), maxBatch)
	}
	rs := make([]Registration, len(req.Users))
	for i, raw := range req.Users {
		path := usersPath(i)
		if err := web.DecodeObject(raw, &rs[i], path); err != nil {
			return err
		}
		if err := check(&rs[i], path); err != nil {
			return err
		}
	}
	users, err := h.repo.RegisterBatch(c.Request().Context(), rs)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, web.NewPage(users, "", toJSON))
}

func (h *handlers) list(c echo.Context) error {
	lq, err := parseListQuery(c)
	if err != nil {
		return err
	}
	page, err := h.repo.List(c.Request().Context(), lq)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, web.NewPage(page.Items, page.Next, toJSON))
}

// checkPatch rejects a PATCH that sets nothing, then checks what it sets.
func checkPatch(p *Patch) error {
	if p.Username == nil && p.Email == nil && p.FullName == nil {
		return apperr.Invalid("nothing to update: give username, email or full_name")
	}
	return check(p, "")
}

func (h *handlers) stats(c echo.Context) error {
	if _, err := web.Query(c); err != nil {
		return err
	}
	st, err := h.repo.Stats(c.Request().Context(), statsDays)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

func parseListQuery(c echo.Context) (ListQuery, error) {
	l, q, err := entity.ParseList(c, []string{string(SortCreated), string(SortCreatedDesc), string(SortUsername)},
		"q", "username", "email")
	if err != nil {
		return ListQuery{}, err
	}
	lq := ListQuery{Limit: l.Limit, Cursor: l.Cursor, State: l.State, Sort: Sort(l.Sort),
		Q: q.Get("q"), Username: q.Get("username"), Email: q.Get("email")}
	for name, v := range map[string]string{"q": lq.Q, "username": lq.Username, "email": lq.Email} {
		if len(v) > 254 {
			return ListQuery{}, apperr.Invalid("%s is longer than 254 characters", name)
		}
	}
	return lq, nil
}

func usersPath(i int) string { return fmt.Sprintf("users[%d]", i) }
