package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// An event outlives the process that published it. A server that publishes but does not
// deliver (events.consume false) deletes a user who is in a team and is killed with SIGKILL
// right after the 204: the user.deleted event waits in the store (`server events list`
// shows it) and the membership row is still there. A second server that delivers starts, and
// the membership goes — nobody retried anything. Then nothing is pending.
func TestEventIsDeliveredAfterThePublisherIsKilled(t *testing.T) {
	t.Parallel()
	dbURL := newDatabase(t, "events_killed")
	a := serve(t, serverEnv(dbURL, "USERSVC_EVENTS__CONSUME=false"))
	a.waitReady(t)
	id := func(r *response) string {
		var v struct{ ID string }
		if err := json.Unmarshal(r.body, &v); err != nil || v.ID == "" {
			t.Fatalf("no id in %d %s", r.status, r.body)
		}
		return v.ID
	}
	user := id(a.do(t, http.MethodPost, "/api/v1/users", `{"username":"doomed","email":"doomed@example.com"}`, token))
	team := id(a.do(t, http.MethodPost, "/api/v1/teams", `{"name":"Survivors"}`, token))
	if r := a.do(t, http.MethodPut, "/api/v1/teams/"+team+"/members/"+user, "", token); r.status != http.StatusCreated {
		t.Fatalf("add member: %d %s", r.status, r.body)
	}
	if r := a.do(t, http.MethodDelete, "/api/v1/users/"+user, "", token); r.status != http.StatusNoContent {
		t.Fatalf("delete user: %d %s", r.status, r.body)
	}
	a.signal(t, syscall.SIGKILL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.wait(ctx); err != nil {
		t.Fatal(err)
	}

	conn := connect(t, dbURL)
	memberships := func() int {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM team_members WHERE user_id = $1`, user).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := memberships(); n != 1 {
		t.Fatalf("before delivery: %d membership rows; want the one the event will remove", n)
	}
	code, out, stderr := runToExit(t, 20*time.Second, serverEnv(dbURL), "events", "list")
	if code != 0 || !strings.Contains(out, "teams") || !strings.Contains(out, "user.deleted") || !strings.Contains(out, "available") {
		t.Fatalf("events list before delivery: exit %d\n%s\n%s", code, out, stderr)
	}

	b := serve(t, serverEnv(dbURL, "USERSVC_EVENTS__POLL_INTERVAL=100ms"))
	if err := eventually(ctx, 50*time.Millisecond, func() bool { return memberships() == 0 }); err != nil {
		t.Fatalf("the restarted service did not deliver user.deleted: %v", err)
	}
	code, out, stderr = runToExit(t, 20*time.Second, serverEnv(dbURL), "events", "list")
	if code != 0 || strings.Contains(out, "user.deleted") {
		t.Fatalf("events list after delivery: exit %d\n%s\n%s", code, out, stderr)
	}
	b.stop(t)
}
