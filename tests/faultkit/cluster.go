// Package faultkit gives fault-injection tests the two controls they need over a real
// PostgreSQL: a cluster of their own that they can stop and start (Cluster), and a TCP proxy
// between the service and the server that can delay, black-hole, refuse and reset
// connections — also right after a COMMIT went through (Proxy).
package faultkit

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Cluster is a PostgreSQL cluster created for a test run in a temporary directory.
type Cluster struct {
	Port    int
	bin     string
	dir     string // holds data/, run/ and log
	asOwner []string
}

// StartCluster initialises and starts a new cluster from the installed PostgreSQL binaries,
// listening on 127.0.0.1 on a free port. When running as root, the cluster belongs to the
// postgres OS user (PostgreSQL refuses to run as root).
func StartCluster() (*Cluster, error) {
	bin, err := findBinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "usersvc-faults-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, dir: dir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("faultkit: running as root needs the postgres OS user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
		c.asOwner = []string{"runuser", "-u", "postgres", "--"}
	}
	if c.Port, err = freePort(); err != nil {
		return nil, err
	}
	if err := c.run("initdb", "-D", c.data(), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-locale"); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o755); err != nil {
		return nil, err
	}
	if err := c.chownRun(); err != nil {
		return nil, err
	}
	return c, c.Start()
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) chownRun() error {
	if c.asOwner == nil {
		return nil
	}
	return exec.Command("chown", "postgres:", filepath.Join(c.dir, "run")).Run()
}

// Start starts the (stopped) cluster and waits until it accepts connections.
func (c *Cluster) Start() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=60 -c fsync=off",
		c.Port, filepath.Join(c.dir, "run"))
	return c.run("pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "run", "log"), "-w", "-t", "60", "-o", opts, "start")
}

// Stop stops the cluster (fast shutdown: connections are terminated).
func (c *Cluster) Stop() error {
	return c.run("pg_ctl", "-D", c.data(), "-m", "fast", "-w", "-t", "60", "stop")
}

// Close stops the cluster if it runs and removes its files.
func (c *Cluster) Close() error {
	_ = c.Stop()
	return os.RemoveAll(c.dir)
}

// URL is the connection URL of database name as user.
func (c *Cluster) URL(user, name string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", user, c.Port, name)
}

// Addr is the server's host:port.
func (c *Cluster) Addr() string { return fmt.Sprintf("127.0.0.1:%d", c.Port) }

func (c *Cluster) run(tool string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := append(append(append([]string{}, c.asOwner...), filepath.Join(c.bin, tool)), args...)
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("faultkit: %s: %w\n%s", tool, err, out)
	}
	return nil
}

// findBinDir finds the newest installed PostgreSQL server binaries.
func findBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("faultkit: no PostgreSQL server binaries (initdb) found: install the Debian package 'postgresql'")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Main is a TestMain body for a package of fault tests: it starts a cluster into *c, runs
// the tests, removes the cluster, and returns the exit status.
func Main(m interface{ Run() int }, c **Cluster) int {
	var err error
	if *c, err = StartCluster(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if err := (*c).Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	return code
}
