// Package clusterkit gives tests a topology of their own: a primary, its streaming standby
// and a PgBouncer, made by scripts/cluster (Start), or a PgBouncer alone in front of the test
// server (Pooler); in a directory of the test's own on free ports, removed when the test ends.
package clusterkit

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"usersvc/tests/testdb"
)

// Cluster is a primary, its streaming standby and a PgBouncer, made by scripts/cluster.
type Cluster struct {
	dir  string
	base int // primary on base, standby on base+1, pgbouncer on base+2
}

// Start brings one up (mode: --sync, --sync=remote_apply or --async) and destroys it when t
// ends.
func Start(t *testing.T, mode string) *Cluster {
	t.Helper()
	// Not t.TempDir: its parent is private to this user, and the servers run as postgres.
	dir, err := os.MkdirTemp("", "usersvc-failover-")
	if err != nil {
		t.Fatal(err)
	}
	base, err := FreePorts(3)
	if err != nil {
		_ = os.RemoveAll(dir)
		t.Fatal(err)
	}
	c := &Cluster{dir: dir, base: base}
	t.Cleanup(func() {
		c.Run(t, "destroy")
		_ = os.RemoveAll(dir)
	})
	c.Run(t, "up", mode)
	return c
}

// Run runs scripts/cluster CMD (stop-primary, promote, …) on this cluster, failing t when it
// fails.
func (c *Cluster) Run(t *testing.T, cmd string, args ...string) {
	t.Helper()
	script := filepath.Join(repoRoot(), "scripts", "cluster")
	all := append([]string{cmd, "--dir", c.dir, "--base-port", strconv.Itoa(c.base)}, args...)
	if out, err := exec.Command(script, all...).CombinedOutput(); err != nil {
		t.Fatalf("scripts/cluster %v: %v\n%s", all, err, out)
	}
}

func (c *Cluster) url(ports ...int) string {
	hosts := ""
	for i, p := range ports {
		if i > 0 {
			hosts += ","
		}
		hosts += fmt.Sprintf("127.0.0.1:%d", p)
	}
	return "postgres://postgres@" + hosts + "/usersvc?sslmode=disable"
}

// ServiceURL names both servers: pgx keeps the one that takes writes.
func (c *Cluster) ServiceURL() string {
	return c.url(c.base, c.base+1) + "&target_session_attrs=read-write"
}

// PrimaryURL is the first primary, directly.
func (c *Cluster) PrimaryURL() string { return c.url(c.base) }

// StandbyURL is the standby (the primary after a promotion), directly.
func (c *Cluster) StandbyURL() string { return c.url(c.base + 1) }

// PoolerURL is the primary through PgBouncer in transaction mode.
func (c *Cluster) PoolerURL() string { return c.url(c.base + 2) }

// Pooler returns host:port of a PgBouncer in transaction mode in front of the test server:
// PoolerAddr when the suite already runs behind one, otherwise one started for t (with
// scripts/pgbouncer, which installs the Debian package when missing) and stopped after it.
func Pooler(t testing.TB) string {
	t.Helper()
	if addr := testdb.PoolerAddr(); addr != "" {
		return addr
	}
	admin, err := url.Parse(testdb.AdminURL())
	if err != nil {
		t.Fatalf("clusterkit: admin URL: %v", err)
	}
	port := admin.Port()
	if port == "" {
		port = "5432"
	}
	// Not t.TempDir: its parent is private to this user, and pgbouncer, started as root,
	// runs as postgres.
	dir, err := os.MkdirTemp("", "usersvc-pgbouncer-")
	if err != nil {
		t.Fatalf("clusterkit: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	free, err := FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(repoRoot(), "scripts", "pgbouncer")
	args := []string{"--dir", dir, "--port", strconv.Itoa(free), "--upstream", admin.Hostname() + ":" + port}
	cmd := exec.Command(script, append([]string{"start"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clusterkit: scripts/pgbouncer start: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(script, "stop", "--dir", dir).CombinedOutput(); err != nil {
			t.Errorf("clusterkit: scripts/pgbouncer stop: %v\n%s", err, out)
		}
	})
	return fmt.Sprintf("127.0.0.1:%d", free)
}

// repoRoot is the module's root: this file's directory, two levels up.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// FreePorts finds n consecutive free ports on 127.0.0.1, below Linux's ephemeral range
// (32768–60999) so that no outgoing connection takes one meanwhile, and returns the first.
// Suite 12 (tests/performance/topology) places its cluster with it too.
func FreePorts(n int) (int, error) {
	for range 200 {
		base := 20000 + rand.IntN(12000)
		ok := true
		for p := base; p < base+n && ok; p++ {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				ok = false
				continue
			}
			_ = l.Close()
		}
		if ok {
			return base, nil
		}
	}
	return 0, fmt.Errorf("clusterkit: no %d consecutive free ports found", n)
}
