package faults_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/tests/faultkit"
	"usersvc/tests/testapp"
)

var cluster *faultkit.Cluster

func TestMain(m *testing.M) {
	var err error
	cluster, err = faultkit.StartCluster()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := cluster.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// A connection reset right after the server committed a registration: the client is told the
// outcome is unknown (never 201, never a blind retry), the row exists once, and a retry with
// the same Idempotency-Key returns the original 201.
func TestCommitCutWithIdempotencyKey(t *testing.T) {
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, cluster.URL("postgres", "postgres"))
	require.NoError(t, err)
	_, err = admin.Exec(ctx, "CREATE DATABASE smoke")
	require.NoError(t, err)
	admin.Close(ctx)

	proxy, err := faultkit.NewProxy(cluster.Addr())
	require.NoError(t, err)
	defer proxy.Close()
	s, err := testapp.StartOn(fmt.Sprintf("postgres://postgres@%s/smoke?sslmode=disable", proxy.Addr()), nil,
		testapp.Options{MigrateURL: cluster.URL("postgres", "smoke")})
	require.NoError(t, err)
	defer s.Close()

	proxy.CutAfterCommit(1)
	start := time.Now()
	resp := s.Do(t, http.MethodPost, "/api/v1/users", map[string]string{"username": "cut1", "email": "cut1@x.io"}, "Idempotency-Key", "k1")
	require.Equal(t, http.StatusServiceUnavailable, resp.Status, "%s", resp.Body)
	assert.Contains(t, string(resp.Body), "outcome unknown")
	assert.Less(t, time.Since(start), 3*time.Second)
	require.EqualValues(t, 1, proxy.CutCommits(), "the proxy cut a committed COMMIT")
	var n int
	require.NoError(t, s.DB.Raw("SELECT count(*) FROM users WHERE username = 'cut1'").Scan(&n).Error)
	assert.Equal(t, 1, n, "committed exactly once")

	resp = s.Do(t, http.MethodPost, "/api/v1/users", map[string]string{"username": "cut1", "email": "cut1@x.io"}, "Idempotency-Key", "k1")
	assert.Equal(t, http.StatusCreated, resp.Status, "%s", resp.Body)
	assert.Equal(t, "true", resp.Header.Get("Idempotent-Replayed"))
	require.NoError(t, s.DB.Raw("SELECT count(*) FROM users WHERE username = 'cut1'").Scan(&n).Error)
	assert.Equal(t, 1, n)
}
