// gorunc drives a runtime through containerd's go-runc bindings, the way containerd's shim
// does, and prints one line per step: "STEP <name> ok <detail>" or "STEP <name> FAIL <detail>".
//
//	gorunc -runtime PATH -root DIR -bundle DIR -id ID -work DIR
//
// The bundle's config runs `sleep` as the container process; hack/e2e/clients.py makes it.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	runc "github.com/containerd/go-runc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var failed bool

func step(name string, err error, detail string) {
	if err != nil {
		failed = true
		fmt.Printf("STEP %s FAIL %s %v\n", name, detail, oneLine(err.Error()))
		return
	}
	fmt.Printf("STEP %s ok %s\n", name, detail)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func check(cond bool, format string, args ...interface{}) error {
	if cond {
		return nil
	}
	return fmt.Errorf(format, args...)
}

// lastLogError is what containerd's shim reports for a failed command: the msg of the last
// JSON record in the runtime's --log file.
func lastLogError(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	msg := ""
	s := bufio.NewScanner(f)
	for s.Scan() {
		var rec struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal(s.Bytes(), &rec) == nil && rec.Level == "error" {
			msg = rec.Msg
		}
	}
	return msg
}

func status(ctx context.Context, r *runc.Runc, id string) string {
	c, err := r.State(ctx, id)
	if err != nil {
		return "error: " + err.Error()
	}
	return c.Status
}

func waitStatus(ctx context.Context, r *runc.Runc, id, want string) error {
	var got string
	for i := 0; i < 200; i++ {
		if got = status(ctx, r, id); got == want {
			return nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("status %q, want %q", got, want)
}

func main() {
	runtime := flag.String("runtime", "", "runtime binary")
	root := flag.String("root", "", "runtime state root")
	bundle := flag.String("bundle", "", "bundle whose process sleeps")
	exitBundle := flag.String("exit-bundle", "", "bundle whose process exits 3")
	id := flag.String("id", "", "container id")
	work := flag.String("work", "", "scratch directory")
	flag.Parse()
	ctx := context.Background()
	logPath := filepath.Join(*work, "runtime-log.json")
	r := &runc.Runc{Command: *runtime, Root: *root, Log: logPath, LogFormat: runc.JSON,
		PdeathSignal: syscall.SIGKILL}

	v, err := r.Version(ctx)
	step("version", err, fmt.Sprintf("parsed %q spec %q", v.Runc, v.Spec))

	io1, err := runc.NewPipeIO(0, 0)
	if err != nil {
		panic(err)
	}
	pidFile := filepath.Join(*work, "init.pid")
	err = r.Create(ctx, *id, *bundle, &runc.CreateOpts{IO: io1, PidFile: pidFile})
	step("create", err, "with pipe io and pid file")
	defer r.Delete(ctx, *id, &runc.DeleteOpts{Force: true})

	pidText, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidText)))
	c, err := r.State(ctx, *id)
	if err == nil {
		err = check(c.Status == "created" && c.Pid == pid && pid > 0 && c.Bundle == *bundle,
			"state %+v, pid file %d", c, pid)
	}
	step("state", err, "created, pid equals the pid file")

	step("start", r.Start(ctx, *id), "")
	step("state-running", waitStatus(ctx, r, *id, "running"), "")

	execIO, err := runc.NewPipeIO(0, 0)
	if err != nil {
		panic(err)
	}
	proc := specs.Process{Args: []string{"sh", "-c", "echo exec-out; echo exec-err >&2"}, Cwd: "/",
		Env: []string{"PATH=/bin"}}
	out := make(chan string, 1)
	go func() { b, _ := io.ReadAll(execIO.Stdout()); out <- string(b) }()
	err = r.Exec(ctx, *id, proc, &runc.ExecOpts{IO: execIO})
	execIO.Close()
	got := <-out
	if err == nil {
		err = check(strings.TrimSpace(got) == "exec-out", "exec stdout %q", got)
	}
	step("exec", err, "stdout through go-runc's pipe io")

	missing := specs.Process{Args: []string{"/no/such/binary"}, Cwd: "/", Env: []string{"PATH=/bin"}}
	err = r.Exec(ctx, *id, missing, &runc.ExecOpts{})
	if err == nil {
		err = fmt.Errorf("exec of a missing binary succeeded")
	} else if msg := err.Error(); strings.Contains(msg, "no such file or directory") ||
		strings.Contains(msg, "executable file not found") {
		err = nil
	}
	step("exec-missing", err, "error names the missing file (engines map it to exit 127)")

	pids, err := r.Ps(ctx, *id)
	if err == nil {
		found := false
		for _, p := range pids {
			found = found || p == pid
		}
		err = check(found, "ps %v lacks the init %d", pids, pid)
	}
	step("ps", err, fmt.Sprintf("%d pids", len(pids)))

	err = r.Pause(ctx, *id)
	if err == nil {
		err = waitStatus(ctx, r, *id, "paused")
	}
	step("pause", err, "")
	err = r.Resume(ctx, *id)
	if err == nil {
		err = waitStatus(ctx, r, *id, "running")
	}
	step("resume", err, "")

	st, err := r.Stats(ctx, *id)
	if err == nil {
		err = check(st.Pids.Current >= 1 && st.Memory.Usage.Usage > 0, "stats %+v", st)
	}
	step("stats", err, "pids and memory usage")

	evCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	events, err := r.Events(evCtx, *id, time.Second)
	if err == nil {
		select {
		case e := <-events:
			err = check(e != nil && e.Type == "stats" && e.ID == *id, "event %+v", e)
		case <-evCtx.Done():
			err = fmt.Errorf("no event within 10 s")
		}
	}
	cancel()
	step("events", err, "a stats event streams")

	limit := int64(64 << 20)
	err = r.Update(ctx, *id, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}})
	step("update", err, "memory limit")

	list, err := r.List(ctx)
	if err == nil {
		err = check(len(list) == 1 && list[0].ID == *id && list[0].Status == "running",
			"list %+v", list)
	}
	step("list", err, "")

	err = r.Kill(ctx, *id, int(syscall.SIGKILL), &runc.KillOpts{All: true})
	if err == nil {
		err = waitStatus(ctx, r, *id, "stopped")
	}
	step("kill-all", err, "")

	err = r.Delete(ctx, *id, &runc.DeleteOpts{Force: true})
	if err == nil {
		_, stateErr := r.State(ctx, *id)
		err = check(stateErr != nil, "state still answers after delete")
	}
	step("delete", err, "")

	code, err := r.Run(ctx, *id+"-run", *exitBundle, &runc.CreateOpts{})
	if err == nil || code == 3 {
		err = check(code == 3, "run exit code %d", code)
	}
	r.Delete(ctx, *id+"-run", &runc.DeleteOpts{Force: true})
	step("run", err, fmt.Sprintf("exit code %d", code))

	os.Truncate(logPath, 0)
	badIO, _ := runc.NewPipeIO(0, 0)
	err = r.Create(ctx, *id+"-bad", filepath.Join(*work, "no-such-bundle"),
		&runc.CreateOpts{IO: badIO})
	badIO.Close()
	msg := lastLogError(logPath)
	if err == nil {
		err = fmt.Errorf("create of a missing bundle succeeded")
		r.Delete(ctx, *id+"-bad", &runc.DeleteOpts{Force: true})
	} else {
		err = check(strings.Contains(msg, "no such file or directory"),
			"the --log file's last error %q does not say what is missing", msg)
	}
	step("error-log", err, fmt.Sprintf("json log says %q", msg))

	err = r.Kill(ctx, "no-such-container", int(syscall.SIGTERM), nil)
	if err == nil {
		err = fmt.Errorf("kill of a missing container succeeded")
	} else {
		err = check(strings.Contains(err.Error(), "does not exist") ||
			strings.Contains(err.Error(), "not found"), "error %q", err)
	}
	step("error-missing", err, "kill of an unknown id")

	if failed {
		os.Exit(1)
	}
}
