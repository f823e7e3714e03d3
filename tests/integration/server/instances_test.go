package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"usersvc/tests/clusterkit"
)

// Three instances of the binary on a replicated topology of their own (scripts/cluster: a
// primary, its synchronous standby, PgBouncer), started together as a deployment rolls out:
// two find the primary by the multi-host URL, the third goes through PgBouncer in transaction
// mode. One applies the migrations while the others wait on its lock; all three serve the
// same data; a page cursor from one works on another (same pagination.cursor_secret); a
// retry with an Idempotency-Key on another instance replays the first answer; a module
// event is handled once whichever instances deliver it; the periodic jobs run on the
// elected leader only.
func TestThreeInstancesServeAsOne(t *testing.T) {
	t.Parallel()
	cluster := clusterkit.Start(t, "--sync")
	dbURL := cluster.PrimaryURL()
	const cleanupEvery = time.Second
	common := []string{"USERSVC_EVENTS__POLL_INTERVAL=100ms", "USERSVC_IDEMPOTENCY__CLEANUP_INTERVAL=" + cleanupEvery.String()}
	envs := [][]string{
		serverEnv(cluster.ServiceURL(), common...),
		serverEnv(cluster.ServiceURL(), common...),
		serverEnv(cluster.PoolerURL(), append([]string{"USERSVC_DATABASE__POOLER=transaction",
			"USERSVC_MIGRATIONS__URL=" + cluster.PrimaryURL()}, common...)...),
	}
	servers := make([]*server, 3)
	var wg sync.WaitGroup
	for i := range servers {
		wg.Add(1)
		go func() { defer wg.Done(); servers[i] = serve(t, envs[i]) }()
	}
	wg.Wait()
	started := time.Now()
	migrated := 0
	for _, s := range servers {
		s.waitReady(t)
		if strings.Contains(s.stderr.String(), `"migration applied"`) {
			migrated++
		}
	}
	if migrated != 1 {
		t.Errorf("%d instances applied migrations; want exactly one (the others wait on its lock)", migrated)
	}
	a, b, c := servers[0], servers[1], servers[2]

	// Same data, and a cursor of one is a cursor of all.
	var ids []string
	for _, name := range []string{"ann", "bob", "cat"} {
		ids = append(ids, idOf(t, a.do(t, http.MethodPost, "/api/v1/users", `{"username":"`+name+`","email":"`+name+`@example.com"}`, token)))
	}
	if r := c.do(t, http.MethodGet, "/api/v1/users/"+ids[1], "", token); r.status != http.StatusOK {
		t.Errorf("a user created on one instance, read on another: %d %s", r.status, r.body)
	}
	var page struct {
		Items      []struct{ Username string }
		NextCursor string `json:"next_cursor"`
	}
	decode(t, a.do(t, http.MethodGet, "/api/v1/users?limit=1&sort=username", "", token), &page)
	if page.NextCursor == "" {
		t.Fatalf("no next cursor on a one-item page of three users")
	}
	decode(t, b.do(t, http.MethodGet, "/api/v1/users?limit=1&sort=username&cursor="+page.NextCursor, "", token), &page)
	if len(page.Items) != 1 || page.Items[0].Username != "bob" {
		t.Errorf("another instance's cursor: got %+v; want the second page (bob)", page.Items)
	}

	// A retry on another instance with the same Idempotency-Key replays the first answer.
	body := `{"username":"dora","email":"dora@example.com"}`
	first := postWithKey(t, a, body, "rollout-key-1")
	again := postWithKey(t, b, body, "rollout-key-1")
	if first.status != http.StatusCreated || again.status != http.StatusCreated || idOf(t, first) != idOf(t, again) ||
		again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry on another instance: first %d %s, again %d %s (replayed %q); want the first answer replayed",
			first.status, first.body, again.status, again.body, again.header.Get("Idempotent-Replayed"))
	}

	// An event is handled once: the deleted user's membership goes with one member_removed.
	team := idOf(t, c.do(t, http.MethodPost, "/api/v1/teams", `{"name":"Rollout"}`, token))
	if r := c.do(t, http.MethodPut, "/api/v1/teams/"+team+"/members/"+ids[0], "", token); r.status != http.StatusCreated {
		t.Fatalf("add member: %d %s", r.status, r.body)
	}
	if r := b.do(t, http.MethodDelete, "/api/v1/users/"+ids[0], "", token); r.status != http.StatusNoContent {
		t.Fatalf("delete user: %d %s", r.status, r.body)
	}
	conn := connect(t, dbURL)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	count := func(sql string, args ...any) int {
		var n int
		if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := eventually(ctx, 50*time.Millisecond, func() bool {
		return count(`SELECT count(*) FROM team_members WHERE user_id = $1`, ids[0]) == 0
	}); err != nil {
		t.Fatalf("user.deleted was not delivered to teams: %v", err)
	}
	time.Sleep(500 * time.Millisecond) // time for a second delivery, were there one
	if n := count(`SELECT count(*) FROM team_events WHERE team_id = $1 AND action = 'member_removed'`, team); n != 1 {
		t.Errorf("%d member_removed events for one deleted user; want 1", n)
	}

	// Periodic jobs: enqueued by River's one leader, not by each instance.
	time.Sleep(3 * time.Second)
	elapsed := time.Since(started)
	runs := count(`SELECT count(*) FROM river_job WHERE kind = 'periodic' AND args->>'name' = 'idempotency_keys_cleanup'`)
	if most := int(elapsed/cleanupEvery) + 2; runs < 1 || runs > most {
		t.Errorf("the %s cleanup ran %d times in %s across three instances; want 1 to %d (the leader's schedule only)",
			cleanupEvery, runs, elapsed.Round(time.Millisecond), most)
	}
	if n := count(`SELECT count(*) FROM river_leader`); n != 1 {
		t.Errorf("%d River leaders; want 1", n)
	}
}

func postWithKey(t *testing.T, s *server, body, key string) *response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.base+"/api/v1/users", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", key)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: data}
}

func idOf(t *testing.T, r *response) string {
	t.Helper()
	var v struct{ ID string }
	if err := json.Unmarshal(r.body, &v); err != nil || v.ID == "" {
		t.Fatalf("no id in %d %s", r.status, r.body)
	}
	return v.ID
}

func decode(t *testing.T, r *response, v any) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
}
