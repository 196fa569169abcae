package sampler

import (
	"bytes"
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/localsre/sre-agent/internal/procfs"
)

// The parsers read text from /proc and /sys, which a --proc-root may point
// anywhere. Beyond not panicking, each fuzz target checks that a failure
// wraps ErrParse and that a success holds what the sampler relies on to
// write a valid record. Seeds: f.Add below and testdata/fuzz/<FuzzName>/.

func FuzzParseStat(f *testing.F) {
	f.Add([]byte(statLine(baseStat)))
	f.Add([]byte(statLine(withStat(func(s *Stat) { s.Comm = "my (weird) proc" }))))
	f.Add([]byte(statLine(withStat(func(s *Stat) { s.State, s.ExitCode = "Z", 139 }))))
	f.Add([]byte(statLine(withStat(func(s *Stat) { s.HasExitCode = false }))))
	f.Add([]byte("1234 (x"))
	f.Add([]byte("1 () S 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseStat(b)
		if err != nil {
			if !errors.Is(err, ErrParse) {
				t.Fatalf("error does not wrap ErrParse: %v", err)
			}
			return
		}
		if st.PID <= 0 || st.PPID < 0 || st.Threads < 0 {
			t.Errorf("pid %d, ppid %d, threads %d: want pid > 0 and the others >= 0", st.PID, st.PPID, st.Threads)
		}
		if len(st.State) != 1 {
			t.Errorf("state %q: want one character", st.State)
		}
		open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if st.Comm != string(b[open+1:end]) {
			t.Errorf("comm %q: want everything between the first ( and the last )", st.Comm)
		}
		again, err := parseStat([]byte(statLine(st)))
		if err != nil || again != st {
			t.Errorf("re-rendered line parses as %+v, %v; want %+v", again, err, st)
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte("Name:\tnginx\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t33\t33\t33\t33\nThreads:\t1\n"))
	f.Add([]byte("Uid:\t0\n"))
	f.Add([]byte("Name:\tx\nUid:\t1\t2\t3\t4\nThreads:\tmany\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseStatus(b)
		if err != nil {
			if !errors.Is(err, ErrParse) {
				t.Fatalf("error does not wrap ErrParse: %v", err)
			}
			return
		}
		if !st.HasUID {
			t.Errorf("success without a Uid line: %+v", st)
		}
	})
}

var (
	fuzzContainerID = regexp.MustCompile(`^[0-9a-f]{64}$`)
	fuzzPodUID      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

func FuzzParseCgroup(f *testing.F) {
	f.Add([]byte("0::/system.slice/docker-" + hexID + ".scope\n"))
	f.Add([]byte(v1Lines("/docker/"+hexID, "/docker/"+hexID)))
	f.Add([]byte(v1Lines("/user.slice", "/user.slice") + "0::/user.slice\n"))
	f.Add([]byte("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + strings.ReplaceAll(podUID, "-", "_") + ".slice/cri-containerd-" + hexID + ".scope\n"))
	f.Add([]byte("0::/kubepods/burstable/pod" + podUID + "/" + hexID + "\n"))
	f.Add([]byte("0::/\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cg, err := parseCgroup(b)
		if err != nil {
			if !errors.Is(err, ErrParse) {
				t.Fatalf("error does not wrap ErrParse: %v", err)
			}
			return
		}
		if cg.ContainerID != "" && !fuzzContainerID.MatchString(cg.ContainerID) {
			t.Errorf("container id %q: want 64 lower-case hex digits", cg.ContainerID)
		}
		if cg.ContainerID != "" && cg.Runtime == "" {
			t.Errorf("container id %q without a runtime", cg.ContainerID)
		}
		switch cg.Runtime {
		case "", "docker", "containerd", "podman", "crio", "kubepods":
		default:
			t.Errorf("runtime %q: not one the schema knows", cg.Runtime)
		}
		if cg.PodUID != "" && !fuzzPodUID.MatchString(cg.PodUID) {
			t.Errorf("pod uid %q: want a dashed UUID", cg.PodUID)
		}
		if cg.Path == "" {
			t.Errorf("empty path: %+v", cg)
		}
		if cg.MemoryPath != "" && cg.MemoryPath != cg.Path || cg.V2 && cg.MemoryPath == "" {
			t.Errorf("memory path %q, path %q, v2 %v: memory path is the path or nothing, and always set on v2", cg.MemoryPath, cg.Path, cg.V2)
		}
	})
}

func FuzzParsePSI(f *testing.F) {
	f.Add([]byte("some avg10=1.25 avg60=0.50 avg300=0.10 total=12345\nfull avg10=0.75 avg60=0.20 avg300=0.05 total=6789\n"))
	f.Add([]byte("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"))
	f.Add([]byte("some avg10=NaN\n"))
	f.Add([]byte("full avg10=1\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parsePSI(b)
		if err != nil {
			if !errors.Is(err, ErrParse) {
				t.Fatalf("error does not wrap ErrParse: %v", err)
			}
			return
		}
		for _, v := range []float64{p.SomeAvg10, p.FullAvg10} {
			if !(v >= 0) || math.IsInf(v, 0) {
				t.Errorf("avg10 %v: want a finite number >= 0 (%+v)", v, p)
			}
		}
		if !p.HasFull && p.FullAvg10 != 0 {
			t.Errorf("full avg10 %v without a full line", p.FullAvg10)
		}
	})
}

func FuzzParseVmstat(f *testing.F) {
	f.Add([]byte("nr_free_pages 123456\noom_kill 7\nnuma_hit 9\n"))
	f.Add([]byte("oom_kill 2\n"))
	f.Add([]byte("nr_free_pages 1\noom_kill "))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, ok, err := parseVmstat(b)
		if err != nil {
			if !errors.Is(err, ErrParse) {
				t.Fatalf("error does not wrap ErrParse: %v", err)
			}
			return
		}
		if !ok && n != 0 {
			t.Errorf("no oom_kill line but count %d", n)
		}
		if ok != (bytes.HasPrefix(b, []byte("oom_kill ")) || bytes.Contains(b, []byte("\noom_kill "))) {
			t.Errorf("ok = %v for %q: want ok exactly when there is an oom_kill line", ok, b)
		}
	})
}

func FuzzParseMemoryEvents(f *testing.F) {
	f.Add([]byte("low 0\nhigh 12\nmax 40\noom 2\noom_kill 1\noom_group_kill 0\n"))
	f.Add([]byte("oom 1\n"))
	f.Add([]byte("oom x\noom_kill 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := parseMemoryEvents(b); err != nil && !errors.Is(err, ErrParse) {
			t.Fatalf("error does not wrap ErrParse: %v", err)
		}
	})
}

func FuzzParseLimits(f *testing.F) {
	f.Add([]byte(limitsFile("1024", "1048576")))
	f.Add([]byte(limitsFile("unlimited", "unlimited")))
	f.Add([]byte("Max open files 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, ok, err := parseLimits(b)
		if err != nil {
			if !errors.Is(err, ErrParse) {
				t.Fatalf("error does not wrap ErrParse: %v", err)
			}
			return
		}
		if !ok && n != 0 {
			t.Errorf("unlimited but limit %d", n)
		}
	})
}

func FuzzParseMemMax(f *testing.F) {
	f.Add([]byte("max\n"))
	f.Add([]byte("536870912\n"))
	f.Add([]byte("9223372036854771712\n"))
	f.Add([]byte("-1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, ok, err := parseMemMax(b)
		if err != nil {
			if !errors.Is(err, ErrParse) {
				t.Fatalf("error does not wrap ErrParse: %v", err)
			}
			return
		}
		if !ok && v != 0 || ok && v >= 1<<62 {
			t.Errorf("parseMemMax = %d, %v: a limit is below 2^62 and no limit is 0", v, ok)
		}
	})
}

func FuzzParseCmdline(f *testing.F) {
	f.Add([]byte("/usr/bin/python3\x00-u\x00/srv/app.py\x00"))
	f.Add([]byte("nginx: worker process"))
	f.Add([]byte("a\x00\x00b\x00"))
	f.Add([]byte("\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		args := parseCmdline(b)
		if got, want := strings.Join(args, "\x00"), string(bytes.TrimRight(b, "\x00")); got != want {
			t.Errorf("args %q join to %q, want %q", args, got, want)
		}
		if len(args) > 0 && args[len(args)-1] == "" {
			t.Errorf("args %q end with an empty argument", args)
		}
	})
}

func FuzzParsePidfile(f *testing.F) {
	f.Add([]byte("123\n"))
	f.Add([]byte(" 42 "))
	f.Add([]byte("-1"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		pid, err := ParsePidfile(b)
		if err == nil && pid <= 0 {
			t.Errorf("ParsePidfile = %d, nil: want a positive PID or an error", pid)
		}
	})
}

func FuzzParseBtime(f *testing.F) {
	f.Add([]byte("cpu  1 2 3 4\nbtime 1767225600\nprocesses 5\n"))
	f.Add([]byte("btime \n"))
	f.Add([]byte("btime 18446744073709551616\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := parseBtime(b); err != nil && !errors.Is(err, ErrParse) {
			t.Fatalf("error does not wrap ErrParse: %v", err)
		}
	})
}

// The kernel's log is outside input too (--kmsg may name any file): a
// record either parses into a time and a message, and a victim has a pid
// the line holds.
func FuzzParseKmsgOOM(f *testing.F) {
	f.Add([]byte("3,410,6385271829,-;Memory cgroup out of memory: Killed process 12292 (python3) total-vm:218752kB"))
	f.Add([]byte("6,409,6385271814,-;oom-kill:constraint=CONSTRAINT_MEMCG,task=python3,pid=12292,uid=0"))
	f.Add([]byte(" SUBSYSTEM=acpi"))
	f.Add([]byte("x;y"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, msg, ok := procfs.ParseKmsgRecord(b)
		if !ok {
			return
		}
		if strings.Contains(msg, "\n") {
			t.Errorf("message %q holds a newline", msg)
		}
		if v, ok := parseOOMVictim(msg); ok && (v.pid <= 0 || !strings.Contains(msg, strconv.Itoa(v.pid))) {
			t.Errorf("victim %+v of %q", v, msg)
		}
	})
}
