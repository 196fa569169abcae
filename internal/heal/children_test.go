package heal

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/localsre/sre-agent/internal/event"
)

// zombie reads /proc/PID/stat as sre-sample does: whether pid is a zombie,
// its start time and the wait status the kernel keeps for its parent
// (field 52). ok is false once the pid is gone (reaped).
func zombie(t *testing.T, pid int) (z bool, ticks uint64, status int, ok bool) {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false, 0, 0, false
	}
	ticks, st, err := parseStat(b)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	status, _ = strconv.Atoi(f[len(f)-1])
	return st == "Z", ticks, status, true
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("no %s within 20s", what)
}

func nextExit(t *testing.T, c *Children) ChildExit {
	t.Helper()
	select {
	case <-c.Notify():
	case <-time.After(20 * time.Second):
		t.Fatal("no exit within 20s")
	}
	xs := c.Exits()
	if len(xs) != 1 {
		t.Fatalf("exits %+v, want one", xs)
	}
	return xs[0]
}

// TestChildrenKeepStatusForTheSampler: a child that restart_process
// started and that dies stays a zombie, its status readable from
// /proc/PID/stat, until the stream has shown its end; then it is reaped.
func TestChildrenKeepStatusForTheSampler(t *testing.T) {
	c := NewChildren(time.Hour, "/proc")
	r := &Rule{Name: "r", Action: "restart_process", Command: []string{"/bin/sleep", "30"}, StartCheck: 50 * time.Millisecond}
	j := job(r, true)
	j.Children = c
	o := Do(context.Background(), j)
	if o.Result != event.ResultOK {
		t.Fatalf("outcome %+v", o)
	}
	defer syscall.Kill(o.PID, syscall.SIGKILL)
	_, ticks, _, _ := zombie(t, o.PID)
	syscall.Kill(o.PID, syscall.SIGTERM)
	x := nextExit(t, c)
	if x.ID != (event.Identity{PID: o.PID, StartTicks: ticks}) || x.Signal != syscall.SIGTERM || x.Code != nil || x.Rule != "r" || x.EventID != "e1" || x.Argv0 != "/bin/sleep" {
		t.Errorf("exit %+v", x)
	}
	if got := x.Status(); got != "killed by SIGTERM" {
		t.Errorf("status %q", got)
	}
	z, _, status, ok := zombie(t, o.PID)
	if !ok || !z || status != int(syscall.SIGTERM) {
		t.Fatalf("after the exit: zombie %v, status %d, in /proc %v; want a zombie with status 15", z, status, ok)
	}
	// another process, or the same pid with another start: not its end
	c.Seen(event.Identity{PID: o.PID, StartTicks: ticks + 1})
	c.Seen(event.Identity{PID: o.PID + 1, StartTicks: ticks})
	time.Sleep(100 * time.Millisecond)
	if z, _, _, ok := zombie(t, o.PID); !ok || !z || c.Held() != 1 {
		t.Fatalf("released by another identity: zombie %v, in /proc %v, held %d", z, ok, c.Held())
	}
	c.Seen(event.Identity{PID: o.PID, StartTicks: ticks})
	waitFor(t, "reap after Seen", func() bool { _, _, _, ok := zombie(t, o.PID); return !ok && c.Held() == 0 })
}

// TestChildrenHoldIsBounded: no stream shows the end (no sampler watches
// the child): the zombie is reaped after Hold all the same, and never more
// than Max dead children are held.
func TestChildrenHoldIsBounded(t *testing.T) {
	c := NewChildren(300*time.Millisecond, "/proc")
	r := &Rule{Name: "r", Action: "restart_process", Command: []string{"/bin/sh", "-c", "exit 3"}, StartCheck: 10 * time.Second}
	j := job(r, true)
	j.Children = c
	o := Do(context.Background(), j)
	if o.Result != event.ResultFailed || o.Err != "exited within start check (10s): exit status 3" {
		t.Errorf("outcome %+v", o)
	}
	if x := nextExit(t, c); x.Code == nil || *x.Code != 3 || x.Signal != 0 {
		t.Errorf("exit %+v", x)
	}
	waitFor(t, "reap after the hold", func() bool { _, _, _, ok := zombie(t, o.PID); return !ok && c.Held() == 0 })

	c = NewChildren(time.Hour, "/proc")
	c.Max = 1
	r = &Rule{Name: "r", Action: "restart_process", Command: []string{"/bin/sh", "-c", "exit 4"}, StartCheck: 10 * time.Second}
	var pids []int
	for range 2 {
		j := job(r, true)
		j.Children = c
		o := Do(context.Background(), j)
		pids = append(pids, o.PID)
		nextExit(t, c)
	}
	// The reap and the count of those held are not one step: wait for both.
	waitFor(t, "the oldest reaped past Max", func() bool { _, _, _, ok := zombie(t, pids[0]); return !ok && c.Held() == 1 })
	if z, _, status, ok := zombie(t, pids[1]); !ok || !z || status != 4<<8 || c.Held() != 1 {
		t.Errorf("the newest: zombie %v status %#x in /proc %v, held %d", z, status, ok, c.Held())
	}
	c.Seen(event.Identity{PID: pids[1]})
	waitFor(t, "reap after Seen", func() bool { return c.Held() == 0 })
}

func TestRound(t *testing.T) {
	for in, want := range map[time.Duration]string{
		60992603990 * time.Nanosecond: "1m1s",
		250400 * time.Microsecond:     "250ms",
		1260 * time.Millisecond:       "1.3s",
		59960 * time.Millisecond:      "1m0s",
		3 * time.Second:               "3s",
		0:                             "0s",
	} {
		if got := Round(in).String(); got != want {
			t.Errorf("Round(%v) = %s, want %s", in, got, want)
		}
	}
}
