package load

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the server receive SIGTERM when the process that started it dies, so
// an interrupted run leaves no server behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
