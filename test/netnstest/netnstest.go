// Package netnstest runs code inside Linux network namespaces from a test process:
// it creates named namespaces and opens sockets in them, each time on a throwaway OS
// thread, so that no goroutine of the caller ever runs in the wrong namespace. The
// end-to-end lab and the kernel tests of vip and vrrpcompat use it.
//
// A socket belongs to the namespace it was created in for its whole life, whichever
// thread uses it later, so only its creation (and any lookup of the namespace's
// interfaces) has to run there. The throwaway thread is never moved back and never
// unlocked: its goroutine returns while still locked, so the Go runtime ends the
// thread instead of handing it, still inside the namespace, to another goroutine. No
// restore step can fail and leave a thread in the wrong namespace.
//
// It needs root (CAP_SYS_ADMIN), and is for tests only: nothing of the product
// imports it.
package netnstest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/vishvananda/netns"
)

// Do runs fn on a new goroutine locked to its own OS thread, which it first moves into
// ns, and returns what fn returned. The caller waits for fn, so ns only has to stay
// open until Do returns.
func Do[T any](ns netns.NsHandle, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see the package doc
		if err := netns.Set(ns); err != nil {
			var zero T
			ch <- result{zero, fmt.Errorf("enter network namespace: %w", err)}
			return
		}
		v, err := fn()
		ch <- result{v, err}
	}()
	r := <-ch
	return r.v, r.err
}

// Run is Do for a fn that returns only an error.
func Run(ns netns.NsHandle, fn func() error) error {
	_, err := Do(ns, func() (struct{}, error) { return struct{}{}, fn() })
	return err
}

// DoNamed is Do in the namespace called name (as `ip netns` names it).
func DoNamed[T any](name string, fn func() (T, error)) (T, error) {
	h, err := netns.GetFromName(name)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("open network namespace %s: %w", name, err)
	}
	defer h.Close()
	return Do(h, fn)
}

// NewNamed creates an empty network namespace called name (it shows in `ip netns`)
// and returns a handle to it. netns.NewNamed moves the calling thread into the new
// namespace; here that is a throwaway thread.
func NewNamed(name string) (netns.NsHandle, error) {
	type result struct {
		h   netns.NsHandle
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: NewNamed leaves the thread in name
		h, err := netns.NewNamed(name)
		ch <- result{h, err}
	}()
	r := <-ch
	if r.err != nil {
		return 0, fmt.Errorf("create network namespace %s: %w", name, r.err)
	}
	return r.h, nil
}

// Sweep deletes the namespaces called prefix<pid>-… whose test process pid has
// ended: what a killed test run left behind. Those of this process and of live ones
// (parallel runs) are left alone; a name without a pid after prefix is deleted. logf
// hears every namespace swept or that could not be.
func Sweep(prefix string, logf func(format string, args ...any)) {
	names, _ := filepath.Glob("/run/netns/" + prefix + "*")
	for _, path := range names {
		name := filepath.Base(path)
		pidStr, _, _ := strings.Cut(strings.TrimPrefix(name, prefix), "-")
		if pid, err := strconv.Atoi(pidStr); err == nil && pid > 0 {
			if pid == os.Getpid() {
				continue
			}
			if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
				continue // still running
			}
		}
		if err := netns.DeleteNamed(name); err != nil {
			logf("sweep leftover namespace %s: %v", name, err)
		} else {
			logf("swept leftover namespace %s", name)
		}
	}
}
