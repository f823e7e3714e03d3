// Package migrations_test proves the schema migrations and their runner against a real
// PostgreSQL: every test works in databases of its own (tests/testdb), created for the run and
// dropped after it.
package migrations_test

import (
	"fmt"
	"os"
	"testing"

	"usersvc/tests/testbin"
)

// serverBin is the `server` binary, built once for the package by TestMain.
var serverBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "usersvc-migrations-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if serverBin, err = testbin.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
