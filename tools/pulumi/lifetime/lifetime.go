// Package lifetime binds a plugin, and every process it starts, to the life of the engine that
// started it. Imported by each of release-train's plugins; its init does the binding.
package lifetime

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"
)

// The process lifetime rules of release-train's plugins (see the README, "Nothing outlives a
// killed command"):
//   - the plugin dies with the engine that started it: a parent-death signal (SIGKILL) is set
//     on itself at start, so a SIGKILLed `pulumi` takes its plugins along even though the
//     engine starts each of them in a process group of its own;
//   - every process the plugin starts dies with it the same way (SysProcAttr.Pdeathsig);
//   - a plugin started with SIGINT ignored (`release plan &` in a script) still stops on the
//     engine's SIGINT, and its children start with SIGINT at its default, so the engine never
//     waits out its 5 s grace period.

func init() {
	// The parent-death signal belongs to the thread that sets it, and a child's is sent when
	// the thread that forked it exits. Keeping the main goroutine on the main thread (which
	// lives as long as the process) makes the setting below hold for the whole process.
	runtime.LockOSThread()
	parent := os.Getppid()
	if err := setParentDeathSignal(syscall.SIGKILL); err != nil {
		fmt.Fprintf(os.Stderr, "cannot bind this plugin to the engine's life: %v\n", err)
	} else if os.Getppid() != parent {
		os.Exit(1) // the engine died before the binding took hold
	}
	stopOnInterruptEvenIfIgnored()
}

func setParentDeathSignal(sig syscall.Signal) error {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(sig), 0); errno != 0 {
		return errno
	}
	return nil
}

// stopOnInterruptEvenIfIgnored handles SIGINT when the process started with it ignored: the
// plugin then exits on it as it would by default, and, the signal being handled rather than
// ignored, the programs it starts get SIGINT at its default disposition.
func stopOnInterruptEvenIfIgnored() {
	if !signal.Ignored(os.Interrupt) {
		return
	}
	interrupts := make(chan os.Signal, 1)
	signal.Notify(interrupts, os.Interrupt)
	go func() {
		<-interrupts
		os.Exit(130)
	}()
}

// DiesWithThisPlugin makes cmd's process get SIGKILL when this plugin dies.
func DiesWithThisPlugin(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}

// RunBound runs cmd to completion on one locked OS thread: the child's parent-death signal
// fires when the thread that forked it exits, and a locked thread cannot exit (nor run another
// goroutine) before the child has been waited for.
func RunBound(cmd *exec.Cmd) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	DiesWithThisPlugin(cmd)
	return cmd.Run()
}
