// Package replicas_test serves GET requests from a real streaming replica (scripts/cluster)
// and checks the promises of database.replicas: a replica is used while it is within
// replica_max_staleness, not after; a read presenting a write's Consistency-Token sees that
// write; a replica that is down is left out and reads go on against the primary.
package replicas_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/tests/clusterkit"
	"usersvc/tests/testapp"
)

const maxStaleness = 500 * time.Millisecond

type fixture struct {
	c *clusterkit.Cluster
	s *testapp.Server
}

func start(t *testing.T) *fixture {
	c := clusterkit.Start(t, "--async")
	s, err := testapp.StartOn(c.ServiceURL(), nil, testapp.Options{
		MigrateURL: c.PrimaryURL(),
		Env: []string{
			"USERSVC_DATABASE__REPLICAS=" + c.StandbyURL(),
			"USERSVC_DATABASE__REPLICA_MAX_STALENESS=" + maxStaleness.String(),
			"USERSVC_DATABASE__REPLICA_WAIT=300ms",
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	f := &fixture{c: c, s: s}
	// The migrations reach the standby, and its first samples find it fresh.
	require.Eventually(t, func() bool { return f.replicaServes(t) }, 10*time.Second, 50*time.Millisecond,
		"a GET was never served by the replica")
	return f
}

// replicaServes sends one GET and tells whether the replica served it.
func (f *fixture) replicaServes(t *testing.T) bool {
	before := f.served(t)
	resp := f.s.Do(t, http.MethodGet, "/api/v1/users?limit=1", nil)
	require.Equal(t, http.StatusOK, resp.Status)
	after := f.served(t)
	return after["replica"] > before["replica"]
}

// served reads usersvc_db_reads_served_total from /metrics: reads by "primary" and "replica".
func (f *fixture) served(t *testing.T) map[string]float64 {
	resp := f.s.Do(t, http.MethodGet, "/metrics", nil)
	require.Equal(t, http.StatusOK, resp.Status)
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(resp.Body))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "usersvc_db_reads_served_total{") {
			continue
		}
		labels, value, _ := strings.Cut(line, " ")
		n, err := strconv.ParseFloat(value, 64)
		require.NoError(t, err)
		if strings.Contains(labels, `pool="primary"`) {
			out["primary"] += n
		} else {
			out["replica"] += n
		}
	}
	return out
}

func (f *fixture) standby(t *testing.T, sql string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, f.c.StandbyURL())
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	require.NoError(t, err)
}

func (f *fixture) createUser(t *testing.T, name string) (id, token string) {
	resp := f.s.Do(t, http.MethodPost, "/api/v1/users",
		map[string]string{"username": name, "email": name + "@example.com", "full_name": "Replica"})
	require.Equal(t, http.StatusCreated, resp.Status, "%s", resp.Body)
	var u struct {
		ID string `json:"id"`
	}
	resp.JSON(t, &u)
	return u.ID, resp.Header.Get("Consistency-Token")
}

// A replica whose replay stops falls behind the primary's writes: after
// replica_max_staleness it serves nothing, and reads see the primary's data; when it catches
// up it is used again.
func TestAReplicaFurtherBehindThanMaxStalenessIsNotUsed(t *testing.T) {
	f := start(t)
	f.standby(t, "SELECT pg_wal_replay_pause()")
	id, _ := f.createUser(t, "while_paused")
	time.Sleep(maxStaleness + 300*time.Millisecond)

	for range 5 {
		assert.False(t, f.replicaServes(t), "the paused replica served a read %s after it fell behind", maxStaleness)
	}
	resp := f.s.Do(t, http.MethodGet, "/api/v1/users/"+id, nil)
	assert.Equal(t, http.StatusOK, resp.Status, "the user written during the pause is read from the primary")

	f.standby(t, "SELECT pg_wal_replay_resume()")
	assert.Eventually(t, func() bool { return f.replicaServes(t) }, 5*time.Second, 50*time.Millisecond,
		"the replica was not used again after catching up")
}

// A write's response carries a Consistency-Token; a GET presenting it sees the write, from
// the primary while the replica has not replayed it, from the replica once it has.
func TestAReadWithAWritesTokenSeesTheWrite(t *testing.T) {
	f := start(t)
	f.standby(t, "SELECT pg_wal_replay_pause()")
	id, token := f.createUser(t, "read_your_write")
	require.NotEmpty(t, token, "a write's response carries a Consistency-Token")
	for range 3 {
		resp := f.s.Do(t, http.MethodGet, "/api/v1/users/"+id, nil, "Consistency-Token", token)
		assert.Equal(t, http.StatusOK, resp.Status, "the token's read missed the write: %s", resp.Body)
	}

	// Caught up again (and sampled fresh), the replica serves token reads: it replays each
	// write within replica_wait.
	f.standby(t, "SELECT pg_wal_replay_resume()")
	n := 0
	assert.Eventually(t, func() bool {
		n++
		id, token := f.createUser(t, fmt.Sprintf("read_your_write_%d", n))
		before := f.served(t)
		resp := f.s.Do(t, http.MethodGet, "/api/v1/users/"+id, nil, "Consistency-Token", token)
		assert.Equal(t, http.StatusOK, resp.Status, "the token's read missed the write: %s", resp.Body)
		return f.served(t)["replica"] > before["replica"]
	}, 5*time.Second, 100*time.Millisecond, "no token read was served by the caught-up replica")
}

func TestAMalformedConsistencyTokenIsBadRequest(t *testing.T) {
	f := start(t)
	for _, tok := range []string{"yesterday", "1/", "/1", "123456789/0"} {
		resp := f.s.Do(t, http.MethodGet, "/api/v1/users?limit=1", nil, "Consistency-Token", tok)
		assert.Equal(t, http.StatusBadRequest, resp.Status, "token %q", tok)
	}
}

// A replica that is down is left out: reads go on from the primary and the service stays
// ready; when it is back it serves again.
func TestADownReplicaIsLeftOut(t *testing.T) {
	f := start(t)
	f.c.Run(t, "stop-standby")
	for i := range 20 {
		resp := f.s.Do(t, http.MethodGet, "/api/v1/users?limit=1", nil)
		require.Equal(t, http.StatusOK, resp.Status, "read %d with the replica down: %s", i, resp.Body)
	}
	resp := f.s.Do(t, http.MethodGet, "/readyz", nil)
	assert.Equal(t, http.StatusOK, resp.Status, "ready while the primary is fine")
	id, _ := f.createUser(t, fmt.Sprintf("replica_down_%d", time.Now().UnixNano()))
	assert.Equal(t, http.StatusOK, f.s.Do(t, http.MethodGet, "/api/v1/users/"+id, nil).Status)

	f.c.Run(t, "start-standby")
	assert.Eventually(t, func() bool { return f.replicaServes(t) }, 20*time.Second, 100*time.Millisecond,
		"the replica was not used again after it came back")
}
