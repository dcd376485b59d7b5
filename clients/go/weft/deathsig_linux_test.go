package weft_test

import (
	"os/exec"
	"syscall"
)

// setDeathSignal kills the server if the test binary dies without cleaning up
// (e.g. a go test -timeout panic).
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
