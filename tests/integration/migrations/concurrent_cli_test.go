package migrations_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/migrations"
)

// Instances that start together (a rolling deploy, several replicas) each run
// `server migrate up` against one empty database: all succeed, and every migration is applied
// exactly once. To make sure the four really contend rather than run one after another by
// luck, the test holds the migration lock until all four are polling for it, then lets go.
func TestConcurrentMigrateUpAppliesEachMigrationOnce(t *testing.T) {
	t.Parallel()
	const instances = 4
	url := newDatabase(t, "concurrent_up")
	conn := connect(t, url)
	want := ids(appPlan(t))

	_, err := conn.Exec(t.Context(), `SELECT pg_advisory_lock($1)`, migrations.LockKey)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(t.Context(), serverTimeout)
	defer cancel()
	type proc struct {
		name string
		res  chan result
	}
	procs := make([]proc, instances)
	for i := range procs {
		name := fmt.Sprintf("migrate_race_%d", i)
		cmd, stdout, stderr := serverCommand(ctx, url,
			[]string{"USERSVC_DATABASE__APPLICATION_NAME=" + name}, "migrate", "up")
		require.NoError(t, cmd.Start())
		procs[i] = proc{name: name, res: make(chan result, 1)}
		go func(res chan<- result) {
			err := cmd.Wait()
			res <- result{code: exitCode(err), stdout: stdout.String(), stderr: stderr.String() + errText(err)}
		}(procs[i].res)
	}

	// Every instance has connected and tried the lock at least once (pg_stat_activity shows a
	// backend's last statement even while it is idle).
	waitFor(t, 30*time.Second, "all instances polling for the lock", func() bool {
		for _, p := range procs {
			select {
			case res := <-p.res:
				t.Fatalf("%s ended while the lock was held: exit %d; stdout: %s; stderr: %s", p.name, res.code, res.stdout, res.stderr)
			default:
			}
		}
		var polling int
		require.NoError(t, conn.QueryRow(t.Context(), `SELECT count(DISTINCT application_name) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name LIKE 'migrate_race_%'
				AND query LIKE '%pg_try_advisory_lock%'`).Scan(&polling))
		return polling == instances
	})
	assert.False(t, relationExists(t, conn, "users"), "nobody may migrate while the lock is held")
	_, err = conn.Exec(t.Context(), `SELECT pg_advisory_unlock($1)`, migrations.LockKey)
	require.NoError(t, err)

	appliedLines := map[string]int{}
	for _, p := range procs {
		res := <-p.res
		require.Equal(t, 0, res.code, "%s: stdout: %s; stderr: %s", p.name, res.stdout, res.stderr)
		for _, l := range lines(res.stdout) {
			if id, ok := strings.CutPrefix(l, "applied "); ok {
				appliedLines[id]++
			} else {
				assert.Equal(t, "nothing applied", l, "%s printed an unexpected line", p.name)
			}
		}
	}
	wantLines := map[string]int{}
	for _, id := range want {
		wantLines[id] = 1
	}
	assert.Equal(t, wantLines, appliedLines, `"applied <ID>" lines across all instances`)

	perID := queryStrings(t, conn, `SELECT id || ' x' || count(*) FROM schema_migrations_history GROUP BY id ORDER BY id`)
	var wantPerID []string
	for _, id := range want {
		wantPerID = append(wantPerID, id+" x1")
	}
	assert.Equal(t, wantPerID, perID, "history rows per migration")
	idsTable, _ := recorded(t, conn)
	assert.Equal(t, want, idsTable)
}

// exitCode is the exit status Wait reports (-1 when the process did not exit normally).
func exitCode(err error) int {
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	default:
		return -1
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return " (" + err.Error() + ")"
}
