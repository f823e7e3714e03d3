package users_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRegisterReturnsCreatedUser(t *testing.T) {
	name := "Reg_" + unique()
	resp := srv.Do(t, http.MethodPost, "/api/v1/users", map[string]string{
		"username": name, "email": name + "@Example.com", "full_name": "Ada Lovelace",
	})
	require.Equal(t, http.StatusCreated, resp.Status, "%s", resp.Body)
	var u user
	resp.JSON(t, &u)
	assert.Equal(t, name, u.Username, "case is kept as given")
	assert.Equal(t, name+"@example.com", u.Email, "the email's local part keeps its case, the domain is stored lowercase")
	assert.Equal(t, "Ada Lovelace", u.FullName)
	assert.Equal(t, 1, u.Version)
	assert.Nil(t, u.DeletedAt)
	assert.False(t, u.CreatedAt.IsZero())
	assert.Equal(t, "/api/v1/users/"+u.ID, resp.Header.Get("Location"))
	assert.Equal(t, `"1"`, resp.Header.Get("ETag"))
	assert.NotEmpty(t, resp.Header.Get("X-Request-ID"))

	got := srv.Do(t, http.MethodGet, resp.Header.Get("Location"), nil)
	require.Equal(t, http.StatusOK, got.Status)
	var again user
	got.JSON(t, &again)
	assert.Equal(t, u, again, "what POST returned is what is stored")
}

func TestRegisterIDsAreTimeOrderedUUIDv7(t *testing.T) {
	a, b := register(t, "v7a"), register(t, "v7b")
	assert.Equal(t, byte('7'), a.ID[14], "version nibble of %s", a.ID)
	assert.Less(t, a.ID, b.ID, "a later user sorts after an earlier one")
}

func TestRegisterDuplicateIsConflictNamingField(t *testing.T) {
	u := register(t, "dup")
	cases := []struct {
		name, username, email, field string
	}{
		{"same username", u.Username, "other" + unique() + "@example.com", "username"},
		{"username differing in case", strings.ToUpper(u.Username), "other" + unique() + "@example.com", "username"},
		{"same email in other case", "other" + unique(), strings.ToUpper(u.Email), "email"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			unchanged(t, func() {
				resp := srv.Do(t, http.MethodPost, "/api/v1/users", map[string]string{"username": tc.username, "email": tc.email})
				requireProblem(t, resp, http.StatusConflict, tc.field)
			})
		})
	}
}

func TestRegisterRejectsBadInput(t *testing.T) {
	ok := func() string { return "ok" + unique() }
	long := strings.Repeat("x", 250) + "@example.com" // 262 characters
	cases := []struct {
		name   string
		body   string
		detail string
	}{
		{"not JSON", `{"username": "abc",`, "JSON"},
		{"array instead of object", `[1, 2]`, "object"},
		{"trailing data", fmt.Sprintf(`{"username":"%s","email":"a%s@x.io"} {}`, ok(), ok()), "after the JSON object"},
		{"unknown field", fmt.Sprintf(`{"username":"%s","email":"b@x.io","admin":true}`, ok()), `unknown field "admin"`},
		{"id is not settable", fmt.Sprintf(`{"id":"0193","username":"%s","email":"c@x.io"}`, ok()), `unknown field "id"`},
		{"wrong type", `{"username": 42, "email": "d@x.io"}`, "username must be a string"},
		{"null value", fmt.Sprintf(`{"username":"%s","email":null}`, ok()), `"email" must not be null`},
		{"missing username", `{"email": "e@x.io"}`, "username"},
		{"username too short", `{"username": "ab", "email": "f@x.io"}`, "username"},
		{"username too long", fmt.Sprintf(`{"username": "%s", "email": "g@x.io"}`, strings.Repeat("a", 33)), "username"},
		{"username with bad character", `{"username": "bad name", "email": "h@x.io"}`, "username"},
		{"username with unicode", `{"username": "jürgen", "email": "i@x.io"}`, "username"},
		{"invalid email", fmt.Sprintf(`{"username":"%s","email":"not-an-email"}`, ok()), "email"},
		{"email too long", fmt.Sprintf(`{"username":"%s","email":"%s"}`, ok(), long), "email"},
		{"full name too long", fmt.Sprintf(`{"username":"%s","email":"j@x.io","full_name":"%s"}`, ok(), strings.Repeat("é", 201)), "full_name"},
		{"empty body", ``, "JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			unchanged(t, func() {
				resp := srv.Do(t, http.MethodPost, "/api/v1/users", tc.body)
				requireProblem(t, resp, http.StatusBadRequest, tc.detail)
			})
		})
	}
}

func TestRegisterAcceptsLimits(t *testing.T) {
	name := strings.Repeat("a", 24) + unique() // 32 characters
	resp := srv.Do(t, http.MethodPost, "/api/v1/users", map[string]string{
		"username": name, "email": name + "@example.com", "full_name": strings.Repeat("é", 200),
	})
	require.Equal(t, http.StatusCreated, resp.Status, "%s", resp.Body)
}

func TestRegisterNeedsJSONContentType(t *testing.T) {
	unchanged(t, func() {
		resp := srv.Do(t, http.MethodPost, "/api/v1/users", `username=abc`, "Content-Type", "application/x-www-form-urlencoded")
		requireProblem(t, resp, http.StatusUnsupportedMediaType, "application/json")
	})
}

func TestBodyOverOneMiBIsTooLarge(t *testing.T) {
	big := fmt.Sprintf(`{"username":"big%s","email":"big@x.io","full_name":"%s"}`, unique(), strings.Repeat("x", 1<<20))
	unchanged(t, func() {
		resp := srv.Do(t, http.MethodPost, "/api/v1/users", big)
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.Status, "%s", resp.Body)
		require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	})
}
