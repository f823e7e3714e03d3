package users_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func list(t *testing.T, query url.Values) userPage {
	t.Helper()
	resp := srv.Do(t, http.MethodGet, "/api/v1/users?"+query.Encode(), nil)
	require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
	var p userPage
	resp.JSON(t, &p)
	return p
}

func usernames(p userPage) []string {
	var out []string
	for _, u := range p.Items {
		out = append(out, u.Username)
	}
	return out
}

func TestListDefaultsToTwentyFiveActiveUsersOldestFirst(t *testing.T) {
	prefix := "dflt" + unique()
	var made []string
	for i := 0; i < 27; i++ {
		made = append(made, register(t, prefix+"_").Username)
	}
	p := list(t, url.Values{"q": {prefix}})
	require.Len(t, p.Items, 25)
	assert.Equal(t, made[:25], usernames(p))
	require.NotNil(t, p.NextCursor)
	next := list(t, url.Values{"q": {prefix}, "cursor": {*p.NextCursor}})
	assert.Equal(t, made[25:], usernames(next))
	assert.Nil(t, next.NextCursor, "last page has no next cursor")
}

func TestListSorts(t *testing.T) {
	prefix := "srt" + unique()
	var made []string
	for _, n := range []string{"_c", "_A", "_b"} {
		resp := srv.Do(t, http.MethodPost, "/api/v1/users", map[string]string{"username": prefix + n, "email": prefix + n + "@x.io"})
		require.Equal(t, http.StatusCreated, resp.Status)
		made = append(made, prefix+n)
	}
	assert.Equal(t, made, usernames(list(t, url.Values{"q": {prefix}, "sort": {"created_at"}})))
	assert.Equal(t, []string{made[2], made[1], made[0]}, usernames(list(t, url.Values{"q": {prefix}, "sort": {"-created_at"}})))
	assert.Equal(t, []string{prefix + "_A", prefix + "_b", prefix + "_c"}, usernames(list(t, url.Values{"q": {prefix}, "sort": {"username"}})),
		"username order ignores case")
}

func TestListFilters(t *testing.T) {
	prefix := "flt" + unique()
	a := register(t, prefix+"_alpha_")
	b := register(t, prefix+"_beta_")
	gone := register(t, prefix+"_gone_")
	require.Equal(t, http.StatusNoContent, srv.Do(t, http.MethodDelete, "/api/v1/users/"+gone.ID, nil).Status)

	assert.ElementsMatch(t, []string{a.Username, b.Username}, usernames(list(t, url.Values{"q": {prefix}})), "active by default")
	assert.ElementsMatch(t, []string{gone.Username}, usernames(list(t, url.Values{"q": {prefix}, "state": {"deleted"}})))
	assert.ElementsMatch(t, []string{a.Username, b.Username, gone.Username}, usernames(list(t, url.Values{"q": {prefix}, "state": {"all"}})))
	assert.Equal(t, []string{a.Username}, usernames(list(t, url.Values{"q": {strings.ToUpper(prefix + "_AL")}})), "q is a case-insensitive prefix")
	assert.Equal(t, []string{b.Username}, usernames(list(t, url.Values{"q": {strings.ToUpper(b.Email[:len(b.Email)-4])}})), "q matches email prefixes too")
	assert.Empty(t, list(t, url.Values{"q": {"alpha" + prefix}}).Items, "q is a prefix, not a substring")
	assert.Equal(t, []string{a.Username}, usernames(list(t, url.Values{"username": {strings.ToUpper(a.Username)}})))
	assert.Equal(t, []string{b.Username}, usernames(list(t, url.Values{"email": {strings.ToUpper(b.Email)}})))
	assert.Empty(t, list(t, url.Values{"username": {gone.Username}}).Items, "deleted users are not found by default")
	assert.Equal(t, []string{gone.Username}, usernames(list(t, url.Values{"username": {gone.Username}, "state": {"deleted"}})))
	assert.Empty(t, list(t, url.Values{"q": {prefix + "%"}}).Items, "LIKE wildcards are plain characters")
}

func TestListRejectsBadParameters(t *testing.T) {
	cases := []struct{ query, detail string }{
		{"limit=0", "limit must be an integer from 1 to 100"},
		{"limit=101", "limit"},
		{"limit=-1", "limit"},
		{"limit=ten", "limit"},
		{"sort=email", "sort must be one of"},
		{"sort=created_at%3BDROP%20TABLE%20users", "sort must be one of"},
		{"sort=lower(username)", "sort must be one of"},
		{"state=gone", "state must be one of"},
		{"q=" + strings.Repeat("a", 255), "q is longer than 254"},
		{"colour=red", `unknown query parameter "colour"`},
		{"limit=1&limit=2", "more than once"},
		{"cursor=abc", "cursor"},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			requireProblem(t, srv.Do(t, http.MethodGet, "/api/v1/users?"+tc.query, nil), http.StatusBadRequest, tc.detail)
		})
	}
}

func TestListCursorIsTamperEvidentAndBoundToItsQuery(t *testing.T) {
	prefix := "cur" + unique()
	for i := 0; i < 3; i++ {
		register(t, prefix+"_")
	}
	p := list(t, url.Values{"q": {prefix}, "limit": {"1"}})
	require.NotNil(t, p.NextCursor)
	cursor := *p.NextCursor

	body, sig, ok := strings.Cut(cursor, ".")
	require.True(t, ok)
	flipped := []byte(body)
	flipped[2] ^= 1
	for name, c := range map[string]string{
		"altered payload":   string(flipped) + "." + sig,
		"altered signature": body + "." + strings.Repeat("A", len(sig)),
		"truncated":         cursor[:len(cursor)-3],
		"no signature":      body,
	} {
		t.Run(name, func(t *testing.T) {
			resp := srv.Do(t, http.MethodGet, "/api/v1/users?"+url.Values{"q": {prefix}, "limit": {"1"}, "cursor": {c}}.Encode(), nil)
			requireProblem(t, resp, http.StatusBadRequest, "cursor")
		})
	}
	for name, q := range map[string]url.Values{
		"other filter": {"q": {prefix + "x"}, "cursor": {cursor}},
		"other sort":   {"q": {prefix}, "sort": {"-created_at"}, "cursor": {cursor}},
		"other state":  {"q": {prefix}, "state": {"all"}, "cursor": {cursor}},
	} {
		t.Run("foreign cursor: "+name, func(t *testing.T) {
			requireProblem(t, srv.Do(t, http.MethodGet, "/api/v1/users?"+q.Encode(), nil), http.StatusBadRequest, "cursor")
		})
	}
	// The page size may change between pages.
	next := list(t, url.Values{"q": {prefix}, "limit": {"5"}, "cursor": {cursor}})
	assert.Len(t, next.Items, 2)
}
