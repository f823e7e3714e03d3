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
