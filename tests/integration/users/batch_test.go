package users_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func batchOf(prefix string, n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		name := fmt.Sprintf("%s_%04d", prefix, i)
		out[i] = map[string]any{"username": name, "email": name + "@x.io", "full_name": "Batch " + name}
	}
	return out
}

func TestBatchRegistersAllInOrder(t *testing.T) {
	prefix := "bat" + unique()
	regs := batchOf(prefix, 1000)
	resp := srv.Do(t, http.MethodPost, "/api/v1/users/batch", map[string]any{"users": regs})
	require.Equal(t, http.StatusCreated, resp.Status, "%s", resp.Body)
	var p userPage
	resp.JSON(t, &p)
	require.Len(t, p.Items, 1000)
	for i, u := range p.Items {
		assert.Equal(t, regs[i]["username"], u.Username)
		assert.Equal(t, 1, u.Version)
	}
	var stored, events int64
	require.NoError(t, srv.DB.Raw("SELECT count(*) FROM users WHERE username LIKE ?", prefix+"%").Scan(&stored).Error)
	require.NoError(t, srv.DB.Raw(`SELECT count(*) FROM user_events e JOIN users u ON u.id = e.user_id
		WHERE u.username LIKE ? AND e.action = 'created'`, prefix+"%").Scan(&events).Error)
	assert.EqualValues(t, 1000, stored)
	assert.EqualValues(t, 1000, events, "one created event per user")
}

func TestBatchIsAllOrNothing(t *testing.T) {
	existing := register(t, "batex")
	cases := []struct {
		name   string
		edit   func(regs []map[string]any) []map[string]any
		status int
		detail string
	}{
		{"invalid item", func(r []map[string]any) []map[string]any { r[3]["email"] = "nope"; return r }, 400, "users[3].email"},
		{"unknown field in item", func(r []map[string]any) []map[string]any { r[2]["role"] = "admin"; return r }, 400, `users[2]: unknown field "role"`},
		{"wrong type in item", func(r []map[string]any) []map[string]any { r[1]["username"] = 7; return r }, 400, "users[1].username must be a string"},
		{"item is not an object", func(r []map[string]any) []map[string]any { r[0] = nil; return r }, 400, "users[0]"},
		{"conflict with a stored user", func(r []map[string]any) []map[string]any {
			r[4]["username"] = strings.ToUpper(existing.Username)
			return r
		}, 409, "users[4]: username"},
		{"conflict with a stored email", func(r []map[string]any) []map[string]any { r[2]["email"] = existing.Email; return r }, 409, "users[2]: email"},
		{"conflict inside the batch", func(r []map[string]any) []map[string]any { r[5]["email"] = r[1]["email"]; return r }, 409, "users[5]: email"},
		{"first invalid wins over a later conflict", func(r []map[string]any) []map[string]any {
			r[1]["username"] = existing.Username
			r[4]["username"] = "x"
			return r
		}, 400, "users[4].username"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prefix := "batx" + unique()
			unchanged(t, func() {
				resp := srv.Do(t, http.MethodPost, "/api/v1/users/batch", map[string]any{"users": tc.edit(batchOf(prefix, 6))})
				requireProblem(t, resp, tc.status, tc.detail)
			})
			assert.Empty(t, list(t, url.Values{"q": {prefix}, "state": {"all"}}).Items)
		})
	}
}

func TestBatchRejectsBadEnvelopes(t *testing.T) {
	cases := []struct{ name, body, detail string }{
		{"more than 1000", "", "at most 1000"},
		{"empty list", `{"users": []}`, "1 to 1000"},
		{"missing list", `{}`, "1 to 1000"},
		{"not a list", `{"users": {"username": "abc"}}`, "users must be an array"},
		{"unknown envelope field", `{"users": [], "dry_run": true}`, `unknown field "dry_run"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body any = tc.body
			if tc.body == "" {
				body = map[string]any{"users": batchOf("big"+unique(), 1001)}
			}
			unchanged(t, func() {
				requireProblem(t, srv.Do(t, http.MethodPost, "/api/v1/users/batch", body), http.StatusBadRequest, tc.detail)
			})
		})
	}
}

// A batch conflict names the first colliding item in request order (not in the order rows
// are inserted, by lower(username)), every field of it that really collides, and with whom:
// an earlier item or a stored user (issue 10, finding 6).
func TestBatchConflictNamesFirstItemFieldAndHolder(t *testing.T) {
	stored := register(t, "zed")
	taken := stored.Email
	cases := []struct {
		name   string
		items  func(u string) [][2]string // username, email
		detail string
	}{
		{"same email, the later item sorts first by username", func(u string) [][2]string {
			return [][2]string{{"zz1" + u, "same" + u + "@x.io"}, {"aa1" + u, "same" + u + "@x.io"}}
		}, "users[1]: email is already taken by users[0]"},
		{"first item takes a stored email, second repeats its username", func(u string) [][2]string {
			return [][2]string{{"bob" + u, taken}, {"BOB" + u, "bob2" + u + "@x.io"}}
		}, "users[0]: email is already taken by a stored user"},
		{"an item repeats both fields of an earlier one", func(u string) [][2]string {
			return [][2]string{{"ann" + u, "ann" + u + "@x.io"}, {"ANN" + u, "ANN" + u + "@X.IO"}}
		}, "users[1]: username and email are already taken by users[0]"},
		{"an item repeats an earlier username and takes a stored email", func(u string) [][2]string {
			return [][2]string{{"cy" + u, "cy" + u + "@x.io"}, {"CY" + u, taken}}
		}, "users[1]: username is already taken by users[0], email by a stored user"},
		{"an item takes both fields of a stored user", func(u string) [][2]string {
			return [][2]string{{"dee" + u, "dee" + u + "@x.io"}, {stored.Username, taken}}
		}, "users[1]: username and email are already taken by a stored user"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := unique()
			var items []map[string]string
			for _, it := range tc.items(u) {
				items = append(items, map[string]string{"username": it[0], "email": it[1]})
			}
			unchanged(t, func() {
				resp := srv.Do(t, http.MethodPost, "/api/v1/users/batch", map[string]any{"users": items})
				p := requireProblem(t, resp, http.StatusConflict, tc.detail)
				assert.Equal(t, tc.detail, p.Detail)
			})
			for _, it := range items {
				if !strings.EqualFold(it["username"], stored.Username) {
					assert.Empty(t, list(t, url.Values{"username": {it["username"]}, "state": {"all"}}).Items, "%s stored", it["username"])
				}
			}
		})
	}
}
