package failover_test

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// cluster is a primary, its streaming standby and a PgBouncer, made by scripts/cluster in a
// directory of the test's own on ports of its own.
type cluster struct {
	dir  string
	base int // primary on base, standby on base+1, pgbouncer on base+2
}

// startCluster brings one up (mode: --sync or --async) and destroys it when t ends.
func startCluster(t *testing.T, mode string) *cluster {
	t.Helper()
	// Not t.TempDir: its parent is private to this user, and the servers run as postgres.
	dir, err := os.MkdirTemp("", "usersvc-failover-")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{dir: dir, base: freePorts(t, 3)}
	t.Cleanup(func() {
		c.run(t, "destroy")
		_ = os.RemoveAll(dir)
	})
	c.run(t, "up", mode)
	return c
}

// run runs scripts/cluster CMD on this cluster, failing t when it fails.
func (c *cluster) run(t *testing.T, cmd string, args ...string) {
	t.Helper()
	script := filepath.Join("..", "..", "scripts", "cluster")
	all := append([]string{cmd, "--dir", c.dir, "--base-port", strconv.Itoa(c.base)}, args...)
	if out, err := exec.Command(script, all...).CombinedOutput(); err != nil {
		t.Fatalf("scripts/cluster %v: %v\n%s", all, err, out)
	}
}

func (c *cluster) url(ports ...int) string {
	hosts := ""
	for i, p := range ports {
		if i > 0 {
			hosts += ","
		}
		hosts += fmt.Sprintf("127.0.0.1:%d", p)
	}
	return "postgres://postgres@" + hosts + "/usersvc?sslmode=disable"
}

// serviceURL names both servers: pgx keeps the one that takes writes.
func (c *cluster) serviceURL() string {
	return c.url(c.base, c.base+1) + "&target_session_attrs=read-write"
}

func (c *cluster) primaryURL() string { return c.url(c.base) }
func (c *cluster) standbyURL() string { return c.url(c.base + 1) }

// freePorts finds n consecutive free ports on 127.0.0.1 and returns the first.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for range 200 {
		base := 20000 + rand.IntN(30000)
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
			return base
		}
	}
	t.Fatal("no free ports")
	return 0
}
