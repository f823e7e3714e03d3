// Package server_test runs the real binary, built once from ./cmd/server, against a real
// PostgreSQL: each test gets a database of its own (tests/testdb) and talks to the process
// only as an operator or a client would: environment, flags, signals, exit status, stderr,
// HTTP, and pg_stat_activity.
package server_test

import (
	"fmt"
	"os"
	"testing"

	"usersvc/tests/testbin"
)

// binary is the path of the server binary built by TestMain.
var binary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "usersvc-server-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if binary, err = testbin.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
