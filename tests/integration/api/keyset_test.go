package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKeysetWalkSeesEveryRowOnceUnderConcurrentInserts walks all pages while another client
// keeps inserting matching users: every user that existed before the walk appears exactly
// once, and no user appears twice.
func TestKeysetWalkSeesEveryRowOnceUnderConcurrentInserts(t *testing.T) {
	for _, sort := range []string{"created_at", "-created_at", "username"} {
		t.Run(sort, func(t *testing.T) {
			prefix := "ks" + unique()
			seeded := seedBatch(t, prefix, 240)

			ctx, stop := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Add(1)
			inserted := 0
			go func() {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					// Names that sort before, among and after the seeded ones.
					name := fmt.Sprintf("%s_%c%04d", prefix, "aMz"[i%3], i)
					resp, err := srv.Request(ctx, http.MethodPost, "/api/v1/users", map[string]string{"username": name, "email": name + "@x.io"})
					if err == nil && resp.Status == http.StatusCreated {
						inserted++
					}
				}
			}()

			seen := map[string]int{}
			cursor := ""
			pages := 0
			for {
				q := url.Values{"q": {prefix}, "limit": {"7"}, "sort": {sort}}
				if cursor != "" {
					q.Set("cursor", cursor)
				}
				p := list(t, q)
				pages++
				for _, u := range p.Items {
					seen[u.ID]++
				}
				if p.NextCursor == nil {
					break
				}
				cursor = *p.NextCursor
			}
			stop()
			wg.Wait()

			require.Greater(t, inserted, 0, "the walk must overlap with inserts")
			require.GreaterOrEqual(t, pages, 240/7)
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
