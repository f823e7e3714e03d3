package topology

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"usersvc/tests/clusterkit"
	"usersvc/tests/performance/perfkit"
)

// clusterTimeout bounds one scripts/cluster command (up makes two servers and a base backup).
const clusterTimeout = 3 * time.Minute

// cluster is a primary, its asynchronous streaming standby and a PgBouncer in transaction
// mode, made by scripts/cluster in a directory of the suite's own on free ports.
type cluster struct {
	script string // scripts/cluster
	dir    string
	base   int               // primary on base, standby base+1, PgBouncer base+2
	urls   map[string]string // scripts/cluster env: PRIMARY_URL, STANDBY_URL, POOLER_URL, …
}

func (c *cluster) primary() string { return c.urls["PRIMARY_URL"] }
func (c *cluster) standby() string { return c.urls["STANDBY_URL"] }
func (c *cluster) pooler() string  { return c.urls["POOLER_URL"] }

// withDatabase is url naming database name instead.
func withDatabase(url, name string) string {
	head, query, _ := strings.Cut(url, "?")
	if i := strings.LastIndex(head, "/"); i >= 0 {
		head = head[:i+1] + name
	}
	if query == "" {
		return head
	}
	return head + "?" + query
}

// startCluster brings a cluster up (asynchronous replication). On error nothing is left
// behind; otherwise call destroy when done.
func startCluster(ctx context.Context) (*cluster, error) {
	script, err := clusterScript()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 { // a port can be taken between choosing and binding it
		base, err := clusterkit.FreePorts(3)
		if err != nil {
			return nil, err
		}
		// Not a private temporary directory: as root, scripts/cluster runs the servers as
		// postgres, who must be able to enter it.
		dir, err := os.MkdirTemp("", "usersvc-perf-topology-")
		if err != nil {
			return nil, err
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		c := &cluster{script: script, dir: dir, base: base}
		_, err = c.run(ctx, "up", "--async")
		if err == nil {
			var out string
			if out, err = c.run(ctx, "env"); err == nil {
				c.urls, err = parseEnv(out)
			}
		}
		if err == nil {
			for _, k := range []string{"PRIMARY_URL", "STANDBY_URL", "POOLER_URL"} {
				if c.urls[k] == "" {
					err = errors.Join(err, fmt.Errorf("topology: scripts/cluster env printed no %s", k))
				}
			}
		}
		if err == nil {
			return c, nil
		}
		lastErr = errors.Join(err, c.destroy())
		if !strings.Contains(err.Error(), "is taken") {
			break
		}
	}
	return nil, lastErr
}

// run runs scripts/cluster cmd on this cluster and returns its standard output.
func (c *cluster) run(ctx context.Context, cmd string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, clusterTimeout)
	defer cancel()
	all := append([]string{cmd, "--dir", c.dir, "--base-port", strconv.Itoa(c.base)}, args...)
	x := exec.CommandContext(ctx, c.script, all...)
	var stdout, stderr bytes.Buffer
	x.Stdout, x.Stderr = &stdout, &stderr
	if err := x.Run(); err != nil {
		return "", fmt.Errorf("topology: scripts/cluster %s: %w\n%s", strings.Join(all, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// destroy stops the cluster and deletes its directory, even when ctx has ended.
func (c *cluster) destroy() error {
	_, err := c.run(context.Background(), "destroy")
	if rmErr := os.RemoveAll(c.dir); rmErr != nil && err == nil {
		err = rmErr
	}
	return err
}

// poolerPID is PgBouncer's process id (0 when its pid file cannot be read).
func (c *cluster) poolerPID() int {
	b, err := os.ReadFile(filepath.Join(c.dir, "pgbouncer", "pgbouncer.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// parseEnv reads scripts/cluster env's `export NAME='value'` lines.
func parseEnv(out string) (map[string]string, error) {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		kv, ok := strings.CutPrefix(line, "export ")
		k, v, ok2 := strings.Cut(kv, "=")
		if !ok || !ok2 || len(v) < 2 || v[0] != '\'' || v[len(v)-1] != '\'' {
			return nil, fmt.Errorf("topology: unreadable line from scripts/cluster env: %q", line)
		}
		m[k] = v[1 : len(v)-1]
	}
	return m, nil
}

// seedCluster migrates and seeds the cluster's usersvc database like the run's own (users
// only as many as data has, at most maxUsers), creates pgbench's tables (scale 1) in a
// database of their own, bench, and waits until the standby has replayed all of it.
func seedCluster(ctx context.Context, c *cluster, pgbench string, data perfkit.SeedInfo, maxUsers int) (perfkit.SeedInfo, error) {
	if err := perfkit.Migrate(ctx, c.primary()); err != nil {
		return perfkit.SeedInfo{}, err
	}
	info, err := perfkit.Seed(ctx, c.primary(), perfkit.Profile{Users: min(data.Users, maxUsers),
		EventsPerUser: data.EventsPerUser, DeletedEvery: data.DeletedEvery})
	if err != nil {
		return perfkit.SeedInfo{}, fmt.Errorf("topology: seed: %w", err)
	}
	conn, err := pgx.Connect(ctx, c.primary())
	if err != nil {
		return perfkit.SeedInfo{}, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE bench"); err != nil {
		return perfkit.SeedInfo{}, fmt.Errorf("topology: create database bench: %w", err)
	}
	init := exec.CommandContext(ctx, pgbench, "-i", "-s", "1", "-q", withDatabase(c.primary(), "bench"))
	if out, err := init.CombinedOutput(); err != nil {
		return perfkit.SeedInfo{}, fmt.Errorf("topology: pgbench -i: %w\n%s", err, out)
	}
	return info, waitStandby(ctx, c)
}

// waitStandby waits (up to a minute) until the standby has replayed what the primary has
// written so far.
func waitStandby(ctx context.Context, c *cluster) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	p, err := pgx.Connect(ctx, c.primary())
	if err != nil {
		return err
	}
	defer p.Close(context.Background())
	s, err := pgx.Connect(ctx, c.standby())
	if err != nil {
		return err
	}
	defer s.Close(context.Background())
	var lsn string
	if err := p.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		return err
	}
	for {
		var done bool
		if err := s.QueryRow(ctx, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", lsn).Scan(&done); err != nil {
			return fmt.Errorf("topology: waiting for the standby to replay %s: %w", lsn, err)
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topology: the standby had not replayed %s after a minute", lsn)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// clusterScript finds scripts/cluster: from the working directory up (make perf runs in
// the repository), else next to this source file.
func clusterScript() (string, error) {
	var tried []string
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			p := filepath.Join(d, "scripts", "cluster")
			tried = append(tried, p)
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				if isExecutable(p) {
					return p, nil
				}
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		p := filepath.Join(filepath.Dir(file), "..", "..", "..", "scripts", "cluster")
		tried = append(tried, p)
		if isExecutable(p) {
			return filepath.Clean(p), nil
		}
	}
	return "", fmt.Errorf("topology: scripts/cluster not found (tried %s): run from the repository", strings.Join(tried, ", "))
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}
