package users_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKeysetWalkSeesEveryRowOnceUnderConcurrentInserts walks all pages while users keep
// being registered between page requests — with names that sort before, among and after the
// seeded ones, and timestamps later than all of them: every user that existed before the walk
// appears exactly once, and no user appears twice.
func TestKeysetWalkSeesEveryRowOnceUnderConcurrentInserts(t *testing.T) {
	for _, sort := range []string{"created_at", "-created_at", "username"} {
		t.Run(sort, func(t *testing.T) {
			prefix := "ks" + unique()
			seeded := seedBatch(t, prefix, 240)

			seen := map[string]int{}
			cursor := ""
			inserted := 0
			for pages := 0; ; pages++ {
				require.Less(t, pages, 1000, "the walk does not end")
				q := url.Values{"q": {prefix}, "limit": {"7"}, "sort": {sort}}
				if cursor != "" {
					q.Set("cursor", cursor)
				}
				p := list(t, q)
				for _, u := range p.Items {
					seen[u.ID]++
				}
				if p.NextCursor == nil {
					break
				}
				cursor = *p.NextCursor
				for _, pattern := range []string{"%s_a%04d", "%s_M%04dx", "%s_z%04d"} { // before, among, after
					name := fmt.Sprintf(pattern, prefix, inserted)
					resp := srv.Do(t, http.MethodPost, "/api/v1/users", map[string]string{"username": name, "email": name + "@x.io"})
					require.Equal(t, http.StatusCreated, resp.Status, "%s", resp.Body)
					inserted++
				}
			}

			require.Greater(t, inserted, 3*(240/7-1))
			for id, n := range seen {
				assert.Equal(t, 1, n, "user %s seen %d times", id, n)
			}
			for _, id := range seeded {
				assert.Equal(t, 1, seen[id], "seeded user %s seen %d times", id, seen[id])
			}
		})
	}
}

// seedBatch registers n users named prefix_<index> through the batch endpoint.
func seedBatch(t *testing.T, prefix string, n int) []string {
	t.Helper()
	var regs []map[string]string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%s_M%04d", prefix, i)
		regs = append(regs, map[string]string{"username": name, "email": name + "@x.io"})
	}
	resp := srv.Do(t, http.MethodPost, "/api/v1/users/batch", map[string]any{"users": regs})
	require.Equal(t, http.StatusCreated, resp.Status, "%s", resp.Body)
	var p userPage
	resp.JSON(t, &p)
	ids := make([]string, len(p.Items))
	for i, u := range p.Items {
		ids[i] = u.ID
	}
	return ids
}
