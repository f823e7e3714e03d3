//go:build !linux

package load

import "os/exec"

// dieWithParent is Linux only; elsewhere an interrupted run may leave a server running.
func dieWithParent(*exec.Cmd) {}
