// Package testbin builds the service's binary for tests that run it as an operator would.
package testbin

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Build compiles ./cmd/server from the module root into dir/server and returns its path.
func Build(dir string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("testbin: go env GOMOD: %w", err)
	}
	modFile := strings.TrimSpace(string(gomod))
	if modFile == "" || modFile == os.DevNull {
		return "", fmt.Errorf("testbin: not inside a Go module")
	}
	out := filepath.Join(dir, "server")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/server")
	cmd.Dir = filepath.Dir(modFile)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("testbin: go build ./cmd/server: %w\n%s", err, msg)
	}
	return out, nil
}
