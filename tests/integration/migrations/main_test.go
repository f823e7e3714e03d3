// Package migrations_test proves the schema migrations and their runner against a real
// PostgreSQL: every test works in databases of its own (tests/testdb), created for the run and
// dropped after it.
package migrations_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// serverBin is the `server` binary, built once for the package by TestMain.
var serverBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "usersvc-migrations-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "migrations_test:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	serverBin = filepath.Join(dir, "server")
	if err := buildServer(serverBin); err != nil {
		fmt.Fprintln(os.Stderr, "migrations_test:", err)
		return 1
	}
	return m.Run()
}

// buildServer builds ./cmd/server from the module root into out.
func buildServer(out string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", out, "./cmd/server")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/server: %w\n%s", err, b)
	}
	return nil
}

func moduleRoot() (string, error) {
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(b))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside a Go module")
	}
	return filepath.Dir(gomod), nil
}
