package forensics

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/event"
)

// oomExcerpt is a cgroup OOM kill as dmesg prints it (Debian 12 kernel,
// a container's process named "leaky", pid 4242).
const oomExcerpt = `[ 8123.456789] leaky invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
[ 8123.456801] CPU: 1 PID: 4242 Comm: leaky Not tainted 6.1.0-13-amd64 #1  Debian 6.1.55-1
[ 8123.456803] Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
[ 8123.456805] Call Trace:
[ 8123.456807]  <TASK>
[ 8123.456810]  dump_stack_lvl+0x44/0x5c
[ 8123.456830]  dump_header+0x4a/0x211
[ 8123.456834]  oom_kill_process.cold+0xb/0x10
[ 8123.456838]  out_of_memory+0x1fd/0x4c0
[ 8123.456845]  mem_cgroup_out_of_memory+0x134/0x150
[ 8123.456900]  </TASK>
[ 8123.456902] memory: usage 262144kB, limit 262144kB, failcnt 1045
[ 8123.456905] memory+swap: usage 262144kB, limit 9007199254740988kB, failcnt 0
[ 8123.456909] Memory cgroup stats for /docker/0123abc:
[ 8123.457001] Tasks state (memory values in pages):
[ 8123.457003] [  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name
[ 8123.457010] [   4242]     0  4242    70000    65000   573440        0             0 leaky
[ 8123.457015] [   4250]     0  4250      400       10    45056        0             0 sh
[ 8123.457020] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=0123abc,mems_allowed=0,oom_memcg=/docker/0123abc,task_memcg=/docker/0123abc,task=leaky,pid=4242,uid=0
[ 8123.457060] Memory cgroup out of memory: Killed process 4242 (leaky) total-vm:280000kB, anon-rss:259000kB, file-rss:1000kB, shmem-rss:0kB, UID:0 pgtables:560kB oom_score_adj:0
[ 8123.470000] oom_reaper: reaped process 4242 (leaky), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB
[ 8200.000000] leaky[4300]: segfault at 0 ip 000055d5 sp 00007ffc error 4 in leaky[55d5+1000]
[ 8300.000000] eth0: link up
`

func TestParseKernelLine(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want kline
		ok   bool
	}{
		{"dmesg", "[ 8123.456789] leaky invoked oom-killer: gfp_mask=0xcc0", kline{8123.456789, true, "leaky invoked oom-killer: gfp_mask=0xcc0"}, true},
		{"leading spaces kept in message", "[ 8123.456810]  dump_stack_lvl+0x44/0x5c", kline{8123.45681, true, " dump_stack_lvl+0x44/0x5c"}, true},
		{"raw priority", "<4>[    0.331747] process_api (1): drop_caches: 10", kline{0.331747, true, "process_api (1): drop_caches: 10"}, true},
		{"caller id", "[    1.265126] [    T1] random: crng reseeded", kline{1.265126, true, "random: crng reseeded"}, true},
		{"cpu caller id", "[    1.265126] [  C0] x", kline{1.265126, true, "x"}, true},
		{"bracket that is no caller id", "[    1.0] [ 4242] 0 4242 leaky", kline{1, true, "[ 4242] 0 4242 leaky"}, true},
		{"no timestamp", "Out of memory: Killed process 1 (x)", kline{0, false, "Out of memory: Killed process 1 (x)"}, true},
		{"journal short-monotonic", "[ 8123.457060] host kernel: Memory cgroup out of memory", kline{8123.45706, true, "host kernel: Memory cgroup out of memory"}, true},
		{"bad timestamp", "[abc] x", kline{0, false, "[abc] x"}, true},
		{"negative timestamp", "[-1.0] x", kline{0, false, "[-1.0] x"}, true},
		{"unclosed", "[ 12.3 x", kline{0, false, "[ 12.3 x"}, true},
		{"crlf", "[ 1.5] x\r\n", kline{1.5, true, "x"}, true},
		{"empty", "", kline{}, false},
		{"blank", "   ", kline{}, false},
		{"priority only", "<6>", kline{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseKernelLine(tt.in)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(kline{})); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}

func TestParseKmsgRecord(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want kline
		ok   bool
	}{
		{"record", "6,339,8123457060,-;Memory cgroup out of memory: Killed process 4242 (leaky)", kline{8123.45706, true, "Memory cgroup out of memory: Killed process 4242 (leaky)"}, true},
		{"with continuation", "3,1200,5000000,-,caller=T1;oom-kill:task=leaky,pid=4242\n SUBSYSTEM=memory\n", kline{5, true, "oom-kill:task=leaky,pid=4242"}, true},
		{"continuation line alone", " SUBSYSTEM=memory", kline{}, false},
		{"no semicolon", "6,1,2,-", kline{}, false},
		{"too few fields", "6,1;x", kline{}, false},
		{"bad usec", "6,1,x,-;x", kline{}, false},
		{"empty message", "6,1,2,-;", kline{}, false},
		{"empty", "", kline{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseKmsgRecord([]byte(tt.in))
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(kline{})); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}

func TestKernelMatcher(t *testing.T) {
	tests := []struct {
		name string
		pid  int
		comm string
		want []string // the messages of oomExcerpt that match
	}{
		{
			name: "the killed process",
			pid:  4242, comm: "leaky",
			want: []string{
				"leaky invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
				"CPU: 1 PID: 4242 Comm: leaky Not tainted 6.1.0-13-amd64 #1  Debian 6.1.55-1",
				"[   4242]     0  4242    70000    65000   573440        0             0 leaky",
				"oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=0123abc,mems_allowed=0,oom_memcg=/docker/0123abc,task_memcg=/docker/0123abc,task=leaky,pid=4242,uid=0",
				"Memory cgroup out of memory: Killed process 4242 (leaky) total-vm:280000kB, anon-rss:259000kB, file-rss:1000kB, shmem-rss:0kB, UID:0 pgtables:560kB oom_score_adj:0",
				"oom_reaper: reaped process 4242 (leaky), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB",
				"leaky[4300]: segfault at 0 ip 000055d5 sp 00007ffc error 4 in leaky[55d5+1000]",
			},
		},
		{
			name: "another process: only the OOM kill's key lines",
			pid:  999, comm: "other",
			want: []string{
				"leaky invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
				"oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=0123abc,mems_allowed=0,oom_memcg=/docker/0123abc,task_memcg=/docker/0123abc,task=leaky,pid=4242,uid=0",
				"Memory cgroup out of memory: Killed process 4242 (leaky) total-vm:280000kB, anon-rss:259000kB, file-rss:1000kB, shmem-rss:0kB, UID:0 pgtables:560kB oom_score_adj:0",
				"oom_reaper: reaped process 4242 (leaky), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB",
			},
		},
		{
			name: "a pid that is a prefix of another does not match it",
			pid:  424, comm: "",
			want: []string{
				"leaky invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
				"oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=0123abc,mems_allowed=0,oom_memcg=/docker/0123abc,task_memcg=/docker/0123abc,task=leaky,pid=4242,uid=0",
				"Memory cgroup out of memory: Killed process 4242 (leaky) total-vm:280000kB, anon-rss:259000kB, file-rss:1000kB, shmem-rss:0kB, UID:0 pgtables:560kB oom_score_adj:0",
				"oom_reaper: reaped process 4242 (leaky), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB",
			},
		},
		{
			name: "the pid of the segfault",
			pid:  4300, comm: "x",
			want: []string{
				"leaky invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
				"oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=0123abc,mems_allowed=0,oom_memcg=/docker/0123abc,task_memcg=/docker/0123abc,task=leaky,pid=4242,uid=0",
				"Memory cgroup out of memory: Killed process 4242 (leaky) total-vm:280000kB, anon-rss:259000kB, file-rss:1000kB, shmem-rss:0kB, UID:0 pgtables:560kB oom_score_adj:0",
				"oom_reaper: reaped process 4242 (leaky), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB",
				"leaky[4300]: segfault at 0 ip 000055d5 sp 00007ffc error 4 in leaky[55d5+1000]",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newKernelMatcher(tt.pid, tt.comm)
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(oomExcerpt), "\n") {
				kl, ok := parseKernelLine(line)
				if ok && m.match(kl.msg) {
					got = append(got, kl.msg)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}

func TestKernelMatcherLongAndOddNames(t *testing.T) {
	// The kernel cuts the name to 15 bytes.
	m := newKernelMatcher(0, "a-very-long-process-name")
	if !m.match("Killed something (a-very-long-pro)") || !m.match("[ 7]  0  7  1  1  0  0  0 a-very-long-pro") {
		t.Error("the 15-byte kernel name does not match")
	}
	// Regexp metacharacters in a name are literal.
	m = newKernelMatcher(0, "a.b(c)*")
	if m.match("axb(c)) started") || !m.match("task=a.b(c)*,pid=1") {
		t.Error("metacharacters in the name are not literal")
	}
}

func TestLogWindow(t *testing.T) {
	now := time.Date(2025, 11, 27, 4, 0, 0, 0, time.UTC)
	w := &logWindow{
		m: newKernelMatcher(4242, "leaky"), from: now.Add(-time.Hour),
		boot: now.Add(-10000 * time.Second), haveBoot: true, max: 3, maxLine: 70,
	}
	w.add(kline{secs: 100, hasTS: true, msg: "Killed process 1 (old)"}) // 9900 s ago: outside
	for _, line := range strings.Split(strings.TrimSpace(oomExcerpt), "\n") {
		kl, _ := parseKernelLine(line)
		w.add(kl)
	}
	w.add(kline{msg: "Out of memory: no time"})
	want := []string{
		"2025-11-27T03:28:43.470Z oom_reaper: reaped process 4242 (leaky), now …",
		"2025-11-27T03:30:00.000Z leaky[4300]: segfault at 0 ip 000055d5 sp 000…",
		"Out of memory: no time",
	}
	if diff := cmp.Diff(want, w.lines); diff != "" {
		t.Errorf("-want +got:\n%s", diff)
	}
	// 6 lines of the OOM report and the segfault name 4242 or leaky, and
	// the untimed one says Out of memory; the old kill is before the window.
	if w.matched != 8 || w.read != 25 {
		t.Errorf("matched %d of %d read, want 8 of 25", w.matched, w.read)
	}
}

// kernelFixture is a procfs with the files the kernel collector reads.
func kernelFixture(t *testing.T, restrict string) string {
	t.Helper()
	root := t.TempDir()
	for rel, s := range map[string]string{
		"vmstat":                     "nr_free_pages 100\noom_kill 3\nnr_foo 1\n",
		"uptime":                     "10000.00 19000.00\n",
		"sys/kernel/dmesg_restrict":  restrict + "\n",
		"kmsg-saved/never-read-here": "",
	} {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// toKmsg turns dmesg lines into /dev/kmsg records, as a saved buffer.
func toKmsg(dmesg string) string {
	var b strings.Builder
	for i, line := range strings.Split(strings.TrimSpace(dmesg), "\n") {
		kl, _ := parseKernelLine(line)
		fmt.Fprintf(&b, "6,%d,%d,-;%s\n SUBSYSTEM=test\n", i, int64(kl.secs*1e6), kl.msg)
	}
	return b.String()
}

// TestKernelCollectorFromSavedKmsg reads the kmsg format from a file (the
// same reads as on /dev/kmsg, many records per read) after dmesg is not
// found, and checks every field and note.
func TestKernelCollectorFromSavedKmsg(t *testing.T) {
	root := kernelFixture(t, "1")
	kmsg := filepath.Join(t.TempDir(), "kmsg")
	if err := os.WriteFile(kmsg, []byte(toKmsg(oomExcerpt)), 0o644); err != nil {
		t.Fatal(err)
	}
	c := NewKernelCollector(root).(*kernelCollector)
	c.dmesg = "dmesg-not-installed-here"
	c.kmsg = kmsg
	c.maxLines = 4
	kills, events, limit := uint64(2), uint64(5), uint64(256<<20)
	now := time.Date(2025, 11, 27, 4, 0, 0, 0, time.UTC)
	inc := &Incident{At: now, Now: now, Process: &event.Process{
		PID: 4242, Name: "leaky", RSSBytes: 250 << 20, Cgroup: "/docker/0123abc",
		CgroupOOMKills: &kills, CgroupOOM: &events, CgroupMemMaxBytes: &limit,
	}}
	s, err := c.Collect(context.Background(), inc)
	if err != nil {
		t.Fatal(err)
	}
	want := Section{
		Title: "Kernel OOM signals",
		Fields: []Field{
			{"Host OOM kills", "3 since boot (/proc/vmstat oom_kill)"},
			{"Cgroup OOM kills", "2 (memory.events oom_kill at the last sample)"},
			{"Cgroup OOM events", "5 (memory.events oom: the limit was hit)"},
			{"Cgroup memory limit", "256.0 MiB (last RSS 250.0 MiB, 97.7% of it)"},
			{"Kernel log source", kmsg},
			{"Kernel log lines", "7 about pid 4242, its name or OOM kills in the last 1h0m0s (23 read); the last 4 shown"},
		},
		Lines: []string{
			"2025-11-27T03:28:43.457Z oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=0123abc,mems_allowed=0,oom_memcg=/docker/0123abc,task_memcg=/docker/0123abc,task=leaky,pid=4242,uid=0",
			"2025-11-27T03:28:43.457Z Memory cgroup out of memory: Killed process 4242 (leaky) total-vm:280000kB, anon-rss:259000kB, file-rss:1000kB, shmem-rss:0kB, UID:0 pgtables:560kB oom_score_adj:0",
			"2025-11-27T03:28:43.470Z oom_reaper: reaped process 4242 (leaky), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB",
			"2025-11-27T03:30:00.000Z leaky[4300]: segfault at 0 ip 000055d5 sp 00007ffc error 4 in leaky[55d5+1000]",
		},
		Notes: []string{"dmesg: not installed (not on PATH)"},
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("-want +got:\n%s", diff)
	}
}

func TestKernelCollectorNoSource(t *testing.T) {
	root := kernelFixture(t, "1")
	c := NewKernelCollector(root).(*kernelCollector)
	c.dmesg, c.journalctl = "/nonexistent/dmesg", "/nonexistent/journalctl"
	c.kmsg = filepath.Join(root, "no-kmsg")
	s, err := c.Collect(context.Background(), &Incident{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"dmesg: /nonexistent/dmesg absent",
		c.kmsg + ": absent",
		"journalctl -k: /nonexistent/journalctl absent",
		"kernel log: no source could be read; the kernel's OOM report is not in this report",
	}
	if diff := cmp.Diff(want, s.Notes); diff != "" {
		t.Errorf("notes -want +got:\n%s", diff)
	}
}

func TestRefusal(t *testing.T) {
	eperm := &cmdError{prog: "dmesg", err: fmt.Errorf("exit status 1"), stderr: "dmesg: read kernel buffer failed: Operation not permitted"}
	for _, tt := range []struct {
		source   string
		err      error
		restrict string
		want     string
	}{
		{"dmesg", eperm, "1", "read kernel buffer failed: Operation not permitted (kernel.dmesg_restrict=1: only root or CAP_SYSLOG may read the kernel log)"},
		{"dmesg", eperm, "0", "read kernel buffer failed: Operation not permitted"},
		{"dmesg", eperm, "", "read kernel buffer failed: Operation not permitted"},
		{"/dev/kmsg", &os.PathError{Op: "open", Path: "/dev/kmsg", Err: syscall.EPERM}, "1", "open: operation not permitted (kernel.dmesg_restrict=1: only root or CAP_SYSLOG may read the kernel log)"},
		{"/dev/kmsg", &os.PathError{Op: "open", Path: "/dev/kmsg", Err: syscall.ENOENT}, "1", "absent"},
		{"/dev/kmsg", &os.PathError{Op: "read", Path: "/dev/kmsg", Err: syscall.EINVAL}, "1", "read: invalid argument"},
		{"dmesg", &os.PathError{Op: "fork/exec", Path: "/x/dmesg", Err: syscall.ENOENT}, "1", "/x/dmesg absent"},
		{"dmesg", &exec.Error{Name: "dmesg", Err: exec.ErrNotFound}, "1", "not installed (not on PATH)"},
		{"journalctl -k", errors.New("No journal files were found."), "1", "No journal files were found."},
		{"journalctl -k", errors.New("journalctl: Permission denied"), "0", "Permission denied"},
	} {
		if got := refusal(tt.source, tt.err, tt.restrict); got != tt.want {
			t.Errorf("refusal(%q, %v, %q) = %q, want %q", tt.source, tt.err, tt.restrict, got, tt.want)
		}
	}
}

// kernelMarker writes a line into the real kernel log (root only) naming
// a made-up process, and returns its pid and name. It is not an OOM
// message: other readers of the log are not misled.
func kernelMarker(t *testing.T) (int, string) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("writing a marker into the kernel log needs root")
	}
	pid := 4_000_000 + rand.IntN(100_000) // above pid_max's default: no real process
	name := fmt.Sprintf("sretest%d", pid)
	f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("cannot write the kernel log: %v", err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "<6>sre-agent forensics test: marker for (%s) pid=%d\n", name, pid); err != nil {
		t.Skipf("cannot write the kernel log: %v", err)
	}
	return pid, name
}

func realIncident(pid int, name string) *Incident {
	now := time.Now()
	return &Incident{At: now, Now: now, Process: &event.Process{PID: pid, Name: name}}
}

func findLine(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

// TestKernelCollectorRealSources reads this host's kernel log through the
// real dmesg and the real /dev/kmsg and finds a marker written just before.
func TestKernelCollectorRealSources(t *testing.T) {
	pid, name := kernelMarker(t)
	want := fmt.Sprintf("marker for (%s) pid=%d", name, pid)

	t.Run("dmesg", func(t *testing.T) {
		if _, err := exec.LookPath("dmesg"); err != nil {
			t.Skip("dmesg is not installed")
		}
		s, err := NewKernelCollector("/proc").Collect(context.Background(), realIncident(pid, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fieldValue(s, "Kernel log source"); got != "dmesg" {
			t.Fatalf("source = %q, want dmesg; notes %q", got, s.Notes)
		}
		if !findLine(s.Lines, want) {
			t.Errorf("marker %q not in %q", want, s.Lines)
		}
		if !strings.Contains(fieldValue(s, "Host OOM kills"), "since boot") {
			t.Errorf("no host OOM kills field: %+v", s.Fields)
		}
	})
	t.Run("kmsg", func(t *testing.T) {
		c := NewKernelCollector("/proc").(*kernelCollector)
		c.dmesg = "/nonexistent/dmesg"
		start := time.Now()
		s, err := c.Collect(context.Background(), realIncident(pid, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fieldValue(s, "Kernel log source"); got != "/dev/kmsg" {
			t.Fatalf("source = %q, want /dev/kmsg; notes %q", got, s.Notes)
		}
		if !findLine(s.Lines, want) {
			t.Errorf("marker %q not in %q", want, s.Lines)
		}
		// A reader that waited for new records would wait until the kernel
		// logs again, which may be never: ten seconds tells the two apart
		// on a loaded machine too.
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("reading /dev/kmsg took %v: it must not wait for new records", took)
		}
	})
}

// TestKernelCollectorRefusedAsOrdinaryUser runs the real dmesg as nobody,
// which the kernel refuses under dmesg_restrict=1, and checks the note
// names the sysctl.
func TestKernelCollectorRefusedAsOrdinaryUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run dmesg as another user")
	}
	b, err := os.ReadFile("/proc/sys/kernel/dmesg_restrict")
	if err != nil || strings.TrimSpace(string(b)) != "1" {
		t.Skipf("kernel.dmesg_restrict is not 1 here (%q, %v)", b, err)
	}
	if _, err := exec.LookPath("dmesg"); err != nil {
		t.Skip("dmesg is not installed")
	}
	c := NewKernelCollector("/proc").(*kernelCollector)
	c.cred = &syscall.Credential{Uid: 65534, Gid: 65534}
	c.kmsg = "/nonexistent/kmsg"
	c.journalctl = "/nonexistent/journalctl"
	s, err := c.Collect(context.Background(), realIncident(1, "init"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Notes) == 0 || !strings.HasPrefix(s.Notes[0], "dmesg: ") ||
		!strings.Contains(s.Notes[0], "Operation not permitted (kernel.dmesg_restrict=1") || strings.HasPrefix(s.Notes[0], "dmesg: dmesg:") {
		t.Errorf("notes = %q, want dmesg refused with kernel.dmesg_restrict=1", s.Notes)
	}
}

func TestKernelCollectorJournal(t *testing.T) {
	prog, err := exec.LookPath("journalctl")
	if err != nil {
		t.Skip("journalctl is not installed")
	}
	c := NewKernelCollector("/proc").(*kernelCollector)
	c.dmesg, c.kmsg, c.journalctl = "/nonexistent/dmesg", "/nonexistent/kmsg", prog
	s, err := c.Collect(context.Background(), realIncident(1, "init"))
	if err != nil {
		t.Fatal(err)
	}
	// Either the journal holds this boot's kernel messages, or the note says
	// why not ("No journal files were found." where no journald runs).
	if src := fieldValue(s, "Kernel log source"); src != "journalctl -k" {
		if len(s.Notes) < 2 {
			t.Fatalf("notes = %q", s.Notes)
		}
		last := s.Notes[len(s.Notes)-2]
		if !strings.HasPrefix(last, "journalctl -k: ") || len(last) <= len("journalctl -k: ") {
			t.Errorf("no reason given for journalctl: %q", s.Notes)
		}
		t.Logf("journalctl -k refused: %s", last)
	} else if len(s.Lines) == 0 && !strings.HasPrefix(fieldValue(s, "Kernel log lines"), "0 ") {
		t.Errorf("journalctl -k read but nothing counted: %+v", s)
	}
}

func TestKernelCollectorStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	s, err := NewKernelCollector("/proc").Collect(ctx, realIncident(1, "init"))
	if err == nil {
		t.Errorf("want the context's error, got section %+v", s)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v after cancel", took)
	}
}

func fieldValue(s Section, key string) string {
	for _, f := range s.Fields {
		if f.Key == key {
			return f.Value
		}
	}
	return ""
}

func FuzzParseKernelLine(f *testing.F) {
	for _, line := range strings.Split(oomExcerpt, "\n") {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, line string) {
		kl, ok := parseKernelLine(line)
		if ok && kl.hasTS && !(kl.secs >= 0) {
			t.Fatalf("negative or NaN time %v from %q", kl.secs, line)
		}
		kr, ok := parseKmsgRecord([]byte(line))
		if ok && strings.ContainsRune(kr.msg, '\n') {
			t.Fatalf("record message holds a newline: %q", kr.msg)
		}
		m := newKernelMatcher(4242, line)
		_ = m.match(line)
		w := &logWindow{m: m, max: 2, maxLine: 10, haveBoot: true}
		w.add(kl)
		w.add(kr)
		for _, l := range w.lines {
			if len(l) > 10+len("…") {
				t.Fatalf("line of %d bytes kept, max 10", len(l))
			}
		}
	})
}
