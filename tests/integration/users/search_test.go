package users_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A prefix search in username order is three reads merged (the username range, the emails
// that do not start with their username, the usernames that are a proper prefix of q). Here
// users are made to fall in every one of them and in none, in several at once, live and
// deleted, in mixed case, and every page walk (each state, several page sizes, with and
// without exact filters) must return exactly what the plain query returns, in its order:
// (lower(username) or lower(email) starts with lower(q)), ordered by lower(username), id.
func TestSearchByNameReturnsWhatThePlainQueryReturns(t *testing.T) {
	tok := "sq" + unique()
	rng := rand.New(rand.NewPCG(uint64(len(tok)), 42))
	var suffixes []string // "", a, b, aa, ab, …, bbbb
	for n := 0; n <= 4; n++ {
		for k := range 1 << n {
			var b strings.Builder
			for i := n - 1; i >= 0; i-- {
				b.WriteByte("ab"[k>>i&1])
			}
			suffixes = append(suffixes, b.String())
		}
	}
	mixCase := func(s string) string {
		if rng.IntN(3) > 0 {
			return s
		}
		i := rng.IntN(len(s))
		return s[:i] + strings.ToUpper(s[i:i+1]) + s[i+1:]
	}
	randAB := func() string { return suffixes[1+rng.IntN(len(suffixes)-1)] }
	email := func(username string, k int) string {
		switch rng.IntN(5) {
		case 0: // starts with its username, nothing more
			return username + "@x.io"
		case 1: // starts with its username, then more of the alphabet (a proper prefix of q, maybe)
			return fmt.Sprintf("%s%sq%d@x.io", username, randAB(), k)
		case 2: // starts with q's stem, not with the username
			return fmt.Sprintf("%s%sz%d@x.io", tok, randAB(), k)
		case 3: // matches nothing
			return fmt.Sprintf("other%d%s@x.io", k, tok)
		default: // starts with the stem, then something not in the alphabet
			return fmt.Sprintf("%sc%d@x.io", tok, k)
		}
	}
	var regs []map[string]any
	for k, s := range suffixes {
		name := mixCase(tok + s)
		regs = append(regs, map[string]any{"username": name, "email": mixCase(email(strings.ToLower(name), k))})
	}
	register(t, "nomatch") // a user that matches nothing, so the table is never only ours
	resp := srv.Do(t, http.MethodPost, "/api/v1/users/batch", map[string]any{"users": regs})
	require.Equal(t, http.StatusCreated, resp.Status, "%s", resp.Body)
	var created userPage
	resp.JSON(t, &created)
	// A third deleted; half of those registered again (same name, another email): live and
	// deleted users then share names.
	for i, u := range created.Items {
		if i%3 != 1 {
			continue
		}
		del(t, u.ID)
		if i%2 == 0 {
			again := srv.Do(t, http.MethodPost, "/api/v1/users", map[string]string{
				"username": u.Username, "email": fmt.Sprintf("%s%sy%d@x.io", tok, randAB(), i)})
			require.Equal(t, http.StatusCreated, again.Status, "%s", again.Body)
		}
	}

	type filter struct{ q, username, email string }
	filters := []filter{{q: tok}, {q: tok + "a"}, {q: tok + "ab"}, {q: tok + "aba"}, {q: tok + "b"},
		{q: tok + "bb"}, {q: strings.ToUpper(tok + "ab")}, {q: tok + "abq"}, {q: tok + "c"}, {q: "nomatch" + tok},
		{q: tok + "a", username: tok + "ab"}, {q: tok, email: strings.ToUpper(created.Items[0].Email)}}
	for _, f := range filters {
		for _, state := range []string{"active", "deleted", "all"} {
			want := plainSearch(t, f.q, f.username, f.email, state)
			for _, limit := range []int{1, 2, 7, 100} {
				q := url.Values{"q": {f.q}, "sort": {"username"}, "state": {state}, "limit": {fmt.Sprint(limit)}}
				if f.username != "" {
					q.Set("username", f.username)
				}
				if f.email != "" {
					q.Set("email", f.email)
				}
				require.Equal(t, want, walkIDs(t, q), "q=%s username=%s email=%s state=%s limit=%d", f.q, f.username, f.email, state, limit)
			}
		}
	}
}

// plainSearch is the oracle: the search written as one plain query.
func plainSearch(t *testing.T, q, username, email, state string) []string {
	t.Helper()
	where := `(starts_with(lower(username), lower(@q)) OR starts_with(lower(email), lower(@q)))`
	switch state {
	case "active":
		where += ` AND deleted_at IS NULL`
	case "deleted":
		where += ` AND deleted_at IS NOT NULL`
	}
	if username != "" {
		where += ` AND lower(username) = lower(@username)`
	}
	if email != "" {
		where += ` AND lower(email) = lower(@email)`
	}
	var ids []string
	require.NoError(t, srv.DB.Raw(`SELECT id::text FROM users WHERE `+where+` ORDER BY lower(username), id`,
		map[string]any{"q": q, "username": username, "email": email}).Scan(&ids).Error)
	if ids == nil {
		ids = []string{}
	}
	return ids
}

// walkIDs follows the list's cursors to the end and returns the ids in order.
func walkIDs(t *testing.T, q url.Values) []string {
	t.Helper()
	ids := []string{}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 200, "the walk does not end")
		p := list(t, q)
		for _, u := range p.Items {
			ids = append(ids, u.ID)
		}
		if p.NextCursor == nil {
			return ids
		}
		q.Set("cursor", *p.NextCursor)
	}
}
