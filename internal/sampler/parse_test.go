package sampler

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// statLine renders st as a /proc/PID/stat line. With HasExitCode it has the
// 52 fields of Linux 3.5+, without it the 44 of Linux 3.3; fields the
// sampler does not read hold plausible constants.
func statLine(st Stat) string {
	f := strings.Fields("S 1 1234 1234 0 -1 4194560 1000 0 0 0 0 0 0 0 20 0 1 0 0 0 0 " +
		"18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 3 0 0 0 0 0 " + // 25-44
		"0 0 0 0 0 0 0 0") // 45-52
	// f[i] is field i+3 of proc(5).
	set := func(field int, v string) { f[field-3] = v }
	set(3, st.State)
	set(4, strconv.Itoa(st.PPID))
	set(14, strconv.FormatUint(st.UTime, 10))
	set(15, strconv.FormatUint(st.STime, 10))
	set(20, strconv.Itoa(st.Threads))
	set(22, strconv.FormatUint(st.StartTicks, 10))
	set(23, strconv.FormatUint(st.VSize, 10))
	set(24, strconv.FormatInt(st.RSSPages, 10))
	if st.HasExitCode {
		set(52, strconv.Itoa(st.ExitCode))
	} else {
		f = f[:44-2]
	}
	return strconv.Itoa(st.PID) + " (" + st.Comm + ") " + strings.Join(f, " ") + "\n"
}

// baseStat is a sleeping process on a 3.5+ kernel.
var baseStat = Stat{
	PID: 1234, Comm: "myapp", State: "S", PPID: 1, UTime: 150, STime: 50,
	Threads: 7, StartTicks: 123456, VSize: 104857600, RSSPages: 2560, HasExitCode: true,
}

func withStat(f func(*Stat)) Stat {
	st := baseStat
	f(&st)
	return st
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Stat
		wantErr bool
	}{
		{
			name: "real line from Linux 6.18",
			in:   "15128 (cat) R 15126 15126 9942 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 120315 3133440 382 18446744073709551615 94506106384384 94506106404265 140723815269264 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 94506106420272 94506106421888 94507046887424 140723815275201 140723815275221 140723815275221 140723815276523 0\n",
			want: Stat{PID: 15128, Comm: "cat", State: "R", PPID: 15126, Threads: 1, StartTicks: 120315, VSize: 3133440, RSSPages: 382, HasExitCode: true},
		},
		{
			name: "generated line round-trips",
			in:   statLine(baseStat),
			want: baseStat,
		},
		{
			name: "comm with spaces and nested parentheses",
			in:   statLine(withStat(func(s *Stat) { s.Comm = "my (weird) proc" })),
			want: withStat(func(s *Stat) { s.Comm = "my (weird) proc" }),
		},
		{
			name: "comm that looks like the start of the fields",
			in:   statLine(withStat(func(s *Stat) { s.Comm = "x) R 99 (" })),
			want: withStat(func(s *Stat) { s.Comm = "x) R 99 (" }),
		},
		{
			name: "comm of only a closing parenthesis",
			in:   statLine(withStat(func(s *Stat) { s.Comm = ")" })),
			want: withStat(func(s *Stat) { s.Comm = ")" }),
		},
		{
			name: "empty comm",
			in:   statLine(withStat(func(s *Stat) { s.Comm = "" })),
			want: withStat(func(s *Stat) { s.Comm = "" }),
		},
		{
			name: "comm of 15 bytes, the kernel's limit",
			in:   statLine(withStat(func(s *Stat) { s.Comm = "my-long-service" })),
			want: withStat(func(s *Stat) { s.Comm = "my-long-service" }),
		},
		{
			name: "zombie killed by SIGKILL",
			in:   statLine(withStat(func(s *Stat) { s.State, s.ExitCode = "Z", 9 })),
			want: withStat(func(s *Stat) { s.State, s.ExitCode = "Z", 9 }),
		},
		{
			name: "zombie that exited with status 3",
			in:   statLine(withStat(func(s *Stat) { s.State, s.ExitCode = "Z", 0x300 })),
			want: withStat(func(s *Stat) { s.State, s.ExitCode = "Z", 0x300 }),
		},
		{
			name: "zombie killed by SIGSEGV with a core dump",
			in:   statLine(withStat(func(s *Stat) { s.State, s.ExitCode = "Z", 139 })),
			want: withStat(func(s *Stat) { s.State, s.ExitCode = "Z", 139 }),
		},
		{
			name: "Linux 3.3 line without exit_code",
			in:   statLine(withStat(func(s *Stat) { s.HasExitCode = false })),
			want: withStat(func(s *Stat) { s.HasExitCode = false }),
		},
		{
			name: "kernel thread",
			in:   "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 3 0 0 20 0 1 0 2 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 0 2 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
			want: Stat{PID: 2, Comm: "kthreadd", State: "S", STime: 3, Threads: 1, StartTicks: 2, HasExitCode: true},
		},
		// Readings of a SIGKILLed process with 21 threads on Linux 6.18, in
		// order: field 31 holds SIGKILL (256) while the other threads end,
		// then field 9 gains PF_SIGNALED (0x400), then PF_EXITING (0x4).
		{
			name: "SIGKILL pending, threads ending, memory whole",
			in:   "25508 (target) R 25507 25498 23230 0 -1 4194304 112 0 0 0 0 0 0 0 20 0 19 0 2341829 170389504 273 18446744073709551615 94639437930496 94639437930973 140726637848928 0 0 256 0 0 0 0 0 0 17 1 0 0 0 0 0 94639437942224 94639437942824 94639707803648 140726637857482 140726637857491 140726637857491 140726637858799 9\n",
			want: Stat{PID: 25508, Comm: "target", State: "R", PPID: 25507, Threads: 19, StartTicks: 2341829, VSize: 170389504, RSSPages: 273, ExitCode: 9, HasExitCode: true, Exiting: true},
		},
		{
			name: "PF_SIGNALED, SIGKILL taken",
			in:   "25508 (target) R 25507 25498 23230 0 -1 4195336 112 0 0 0 0 0 0 0 20 0 18 0 2341829 170389504 273 18446744073709551615 94639437930496 94639437930973 140726637848928 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94639437942224 94639437942824 94639707803648 140726637857482 140726637857491 140726637857491 140726637858799 9\n",
			want: Stat{PID: 25508, Comm: "target", State: "R", PPID: 25507, Threads: 18, StartTicks: 2341829, VSize: 170389504, RSSPages: 273, ExitCode: 9, HasExitCode: true, Exiting: true},
		},
		{
			name: "PF_EXITING, memory released",
			in:   "25508 (target) R 25507 25498 23230 0 -1 4195340 112 0 0 0 0 0 0 0 20 0 18 0 2341829 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 9\n",
			want: Stat{PID: 25508, Comm: "target", State: "R", PPID: 25507, Threads: 18, StartTicks: 2341829, ExitCode: 9, HasExitCode: true, Exiting: true},
		},
		{
			name: "main thread ended by pthread_exit, others running",
			in:   "25257 (mainexit) Z 1 25256 23230 0 -1 4227084 120 0 0 0 0 0 0 0 20 0 4 0 2340120 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
			want: Stat{PID: 25257, Comm: "mainexit", State: "Z", PPID: 1, Threads: 4, StartTicks: 2340120, HasExitCode: true, Exiting: true},
		},
		{
			name: "SIGTERM pending, other flags: not exiting",
			in:   "25508 (target) S 25507 25498 23230 0 -1 4194368 112 0 0 0 0 0 0 0 20 0 21 0 2341829 170389504 273 18446744073709551615 94639437930496 94639437930973 140726637848928 0 0 16384 0 0 0 0 0 0 17 1 0 0 0 0 0 94639437942224 94639437942824 94639707803648 140726637857482 140726637857491 140726637857491 140726637858799 0\n",
			want: Stat{PID: 25508, Comm: "target", State: "S", PPID: 25507, Threads: 21, StartTicks: 2341829, VSize: 170389504, RSSPages: 273, HasExitCode: true},
		},
		{
			name: "22 fields after comm, no signal fields: flags alone",
			in:   "7 (old) R 1 7 7 0 -1 4 0 0 0 0 0 0 0 0 20 0 1 0 9 0 0\n",
			want: Stat{PID: 7, Comm: "old", State: "R", PPID: 1, Threads: 1, StartTicks: 9, Exiting: true},
		},
		{
			name: "no trailing newline",
			in:   strings.TrimSuffix(statLine(baseStat), "\n"),
			want: baseStat,
		},
		{name: "empty", in: "", wantErr: true},
		{name: "only a pid", in: "1234\n", wantErr: true},
		{name: "unclosed comm", in: "1234 (myapp S 1 1234\n", wantErr: true},
		{name: "parentheses reversed", in: "1234 )myapp( S 1 1234\n", wantErr: true},
		{name: "pid not a number", in: "abc (myapp) " + strings.SplitN(statLine(baseStat), ") ", 2)[1], wantErr: true},
		{name: "no pid", in: "(myapp) " + strings.SplitN(statLine(baseStat), ") ", 2)[1], wantErr: true},
		{name: "cut short after comm", in: "1234 (myapp) S 1 1234 1234 0 -1\n", wantErr: true},
		{name: "21 fields after comm", in: strings.Join(strings.Fields(statLine(baseStat))[:23], " "), wantErr: true},
		{name: "utime not a number", in: strings.Replace(statLine(baseStat), " 150 50 ", " x 50 ", 1), wantErr: true},
		{name: "negative start time", in: strings.Replace(statLine(baseStat), " 123456 ", " -5 ", 1), wantErr: true},
		{name: "rss not a number", in: strings.Replace(statLine(baseStat), " 2560 ", " 2560k ", 1), wantErr: true},
		{name: "threads beyond int range", in: strings.Replace(statLine(baseStat), " 0 7 0 ", " 0 10000000000000000000 0 ", 1), wantErr: true},
		{name: "ppid beyond int32", in: strings.Replace(statLine(baseStat), ") S 1 ", ") S 4294967296 ", 1), wantErr: true},
		{name: "state of two letters", in: strings.Replace(statLine(baseStat), ") S ", ") SS ", 1), wantErr: true},
		{name: "flags not a number", in: strings.Replace(statLine(baseStat), " -1 4194560 ", " -1 0x4 ", 1), wantErr: true},
		{name: "pending signals not a number", in: strings.Replace(statLine(baseStat), " 1 1 0 0 0 0 0 4096 ", " 1 1 0 0 0 x 0 4096 ", 1), wantErr: true},
		{name: "pid zero", in: "0 " + strings.SplitN(statLine(baseStat), " ", 2)[1], wantErr: true},
		{name: "negative pid", in: "-7 " + strings.SplitN(statLine(baseStat), " ", 2)[1], wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrParse) {
					t.Fatalf("parseStat(%q) = %+v, %v; want an error wrapping ErrParse", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseStat(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseStat(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Status
		wantErr bool
	}{
		{
			name: "real status",
			in: "Name:\tnginx\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t812\nNgid:\t0\nPid:\t812\nPPid:\t1\n" +
				"TracerPid:\t0\nUid:\t33\t33\t33\t33\nGid:\t33\t33\t33\t33\nFDSize:\t64\nGroups:\t33 \n" +
				"VmRSS:\t    5120 kB\nThreads:\t1\nSigQ:\t0/63704\n",
			want: Status{Name: "nginx", UID: 33, EUID: 33, Threads: 1, HasUID: true},
		},
		{
			name: "setuid program: real and effective differ",
			in:   "Name:\tpasswd\nUid:\t1000\t0\t0\t0\nThreads:\t1\n",
			want: Status{Name: "passwd", UID: 1000, EUID: 0, Threads: 1, HasUID: true},
		},
		{
			name: "name with spaces",
			in:   "Name:\tmy app\nUid:\t0\t0\t0\t0\n",
			want: Status{Name: "my app", HasUID: true},
		},
		{
			name: "name with a colon",
			in:   "Name:\tkworker/0:1\nUid:\t0\t0\t0\t0\nThreads:\t1\n",
			want: Status{Name: "kworker/0:1", Threads: 1, HasUID: true},
		},
		{name: "no Uid line", in: "Name:\tx\nThreads:\t1\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "Uid with one field", in: "Name:\tx\nUid:\t0\n", wantErr: true},
		{name: "Uid not a number", in: "Name:\tx\nUid:\troot\t0\t0\t0\n", wantErr: true},
		{name: "Threads not a number", in: "Name:\tx\nUid:\t0\t0\t0\t0\nThreads:\tmany\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatus([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrParse) {
					t.Fatalf("parseStatus = %+v, %v; want an error wrapping ErrParse", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseStatus: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseStatus (-want +got):\n%s", diff)
			}
		})
	}
}

const (
	hexID  = "3f4e9b2c1d0a8e7f6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"
	hexID2 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	podUID = "5d1b7c2e-9f3a-4e8b-a1c6-2d4f6e8a0b1c"
)

// v1Lines is a cgroup v1 file with every controller at path (memory at mem).
func v1Lines(path, mem string) string {
	return "12:pids:" + path + "\n11:memory:" + mem + "\n10:cpu,cpuacct:" + path + "\n" +
		"9:blkio:" + path + "\n1:name=systemd:" + path + "\n"
}

func TestParseCgroup(t *testing.T) {
	podUnderscore := strings.ReplaceAll(podUID, "-", "_")
	tests := []struct {
		name    string
		in      string
		want    Cgroup
		wantErr bool
	}{
		{
			name: "v2 host service",
			in:   "0::/system.slice/nginx.service\n",
			want: Cgroup{Path: "/system.slice/nginx.service", V2: true, MemoryPath: "/system.slice/nginx.service"},
		},
		{
			name: "v2 root (a container with its own cgroup namespace)",
			in:   "0::/\n",
			want: Cgroup{Path: "/", V2: true, MemoryPath: "/"},
		},
		{
			name: "v1 host service",
			in:   v1Lines("/system.slice/nginx.service", "/system.slice/nginx.service"),
			want: Cgroup{Path: "/system.slice/nginx.service", MemoryPath: "/system.slice/nginx.service"},
		},
		{
			name: "v1 where memory lies elsewhere than the other controllers",
			in:   v1Lines("/system.slice/nginx.service", "/system.slice"),
			want: Cgroup{Path: "/system.slice", MemoryPath: "/system.slice"},
		},
		{
			// systemd's hybrid mode: the unified hierarchy tracks processes
			// but has no controllers; memory is accounted on v1.
			name: "hybrid: memory on v1, unified for tracking",
			in:   v1Lines("/user.slice/user-1000.slice/session-2.scope", "/user.slice/user-1000.slice/session-2.scope") + "0::/user.slice/user-1000.slice/session-2.scope\n",
			want: Cgroup{Path: "/user.slice/user-1000.slice/session-2.scope", MemoryPath: "/user.slice/user-1000.slice/session-2.scope"},
		},
		{
			name: "hybrid inside a container: everything at the root",
			in:   "9:name=systemd:/\n4:memory:/\n1:cpu:/\n0::/\n",
			want: Cgroup{Path: "/", MemoryPath: "/"},
		},
		{
			name: "hybrid with memory on the unified hierarchy",
			in:   "3:cpu,cpuacct:/system.slice/app.service\n1:name=systemd:/system.slice/app.service\n0::/system.slice/app.service\n",
			want: Cgroup{Path: "/system.slice/app.service", V2: true, MemoryPath: "/system.slice/app.service"},
		},
		{
			name: "v1 with only a named hierarchy",
			in:   "1:name=systemd:/system.slice/app.service\n",
			want: Cgroup{Path: "/system.slice/app.service"},
		},
		{
			name: "Docker cgroupfs driver, v1",
			in:   v1Lines("/docker/"+hexID, "/docker/"+hexID),
			want: Cgroup{Path: "/docker/" + hexID, MemoryPath: "/docker/" + hexID, ContainerID: hexID, Runtime: "docker"},
		},
		{
			name: "Docker cgroupfs driver, v2",
			in:   "0::/docker/" + hexID + "\n",
			want: Cgroup{Path: "/docker/" + hexID, V2: true, MemoryPath: "/docker/" + hexID, ContainerID: hexID, Runtime: "docker"},
		},
		{
			name: "Docker systemd driver",
			in:   "0::/system.slice/docker-" + hexID + ".scope\n",
			want: Cgroup{Path: "/system.slice/docker-" + hexID + ".scope", V2: true, MemoryPath: "/system.slice/docker-" + hexID + ".scope", ContainerID: hexID, Runtime: "docker"},
		},
		{
			name: "containerd CRI, systemd driver outside Kubernetes",
			in:   "0::/system.slice/cri-containerd-" + hexID + ".scope\n",
			want: Cgroup{Path: "/system.slice/cri-containerd-" + hexID + ".scope", V2: true, MemoryPath: "/system.slice/cri-containerd-" + hexID + ".scope", ContainerID: hexID, Runtime: "containerd"},
		},
		{
			name: "containerd ctr under a namespace",
			in:   "0::/default/" + hexID + "\n",
			want: Cgroup{Path: "/default/" + hexID, V2: true, MemoryPath: "/default/" + hexID, ContainerID: hexID, Runtime: "containerd"},
		},
		{
			name: "podman rootless",
			in:   "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + hexID + ".scope\n",
			want: Cgroup{
				Path: "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + hexID + ".scope", V2: true,
				MemoryPath:  "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + hexID + ".scope",
				ContainerID: hexID, Runtime: "podman",
			},
		},
		{
			name: "podman with the container sub-cgroup",
			in:   "0::/machine.slice/libpod-" + hexID + ".scope/container\n",
			want: Cgroup{Path: "/machine.slice/libpod-" + hexID + ".scope/container", V2: true, MemoryPath: "/machine.slice/libpod-" + hexID + ".scope/container", ContainerID: hexID, Runtime: "podman"},
		},
		{
			name: "CRI-O",
			in:   "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + podUnderscore + ".slice/crio-" + hexID + ".scope\n",
			want: Cgroup{
				Path:        "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + podUnderscore + ".slice/crio-" + hexID + ".scope",
				V2:          true,
				MemoryPath:  "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + podUnderscore + ".slice/crio-" + hexID + ".scope",
				ContainerID: hexID, Runtime: "crio", PodUID: podUID,
			},
		},
		{
			name: "kubepods cgroupfs driver, v1",
			in:   v1Lines("/kubepods/burstable/pod"+podUID+"/"+hexID, "/kubepods/burstable/pod"+podUID+"/"+hexID),
			want: Cgroup{
				Path: "/kubepods/burstable/pod" + podUID + "/" + hexID, MemoryPath: "/kubepods/burstable/pod" + podUID + "/" + hexID,
				ContainerID: hexID, Runtime: "kubepods", PodUID: podUID,
			},
		},
		{
			name: "kubepods systemd driver with containerd",
			in:   "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podUnderscore + ".slice/cri-containerd-" + hexID + ".scope\n",
			want: Cgroup{
				Path:        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podUnderscore + ".slice/cri-containerd-" + hexID + ".scope",
				V2:          true,
				MemoryPath:  "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podUnderscore + ".slice/cri-containerd-" + hexID + ".scope",
				ContainerID: hexID, Runtime: "containerd", PodUID: podUID,
			},
		},
		{
			name: "guaranteed pod, pod-level cgroup without a container",
			in:   "0::/kubepods.slice/kubepods-pod" + podUnderscore + ".slice\n",
			want: Cgroup{
				Path: "/kubepods.slice/kubepods-pod" + podUnderscore + ".slice", V2: true,
				MemoryPath: "/kubepods.slice/kubepods-pod" + podUnderscore + ".slice", Runtime: "kubepods", PodUID: podUID,
			},
		},
		{
			name: "nested container: the innermost id wins",
			in:   "0::/docker/" + hexID2 + "/docker/" + hexID + "\n",
			want: Cgroup{Path: "/docker/" + hexID2 + "/docker/" + hexID, V2: true, MemoryPath: "/docker/" + hexID2 + "/docker/" + hexID, ContainerID: hexID, Runtime: "docker"},
		},
		{
			name: "63 hex digits are not a container id",
			in:   "0::/system.slice/docker-" + hexID[:63] + ".scope\n",
			want: Cgroup{Path: "/system.slice/docker-" + hexID[:63] + ".scope", V2: true, MemoryPath: "/system.slice/docker-" + hexID[:63] + ".scope"},
		},
		{
			name: "upper-case hex is not a container id",
			in:   "0::/docker/" + strings.ToUpper(hexID) + "\n",
			want: Cgroup{Path: "/docker/" + strings.ToUpper(hexID), V2: true, MemoryPath: "/docker/" + strings.ToUpper(hexID)},
		},
		{
			name: "path with a colon",
			in:   "0::/system.slice/system-getty.slice/getty@tty1.service:weird\n",
			want: Cgroup{Path: "/system.slice/system-getty.slice/getty@tty1.service:weird", V2: true, MemoryPath: "/system.slice/system-getty.slice/getty@tty1.service:weird"},
		},
		{name: "empty", in: "", wantErr: true},
		{name: "only newlines", in: "\n\n", wantErr: true},
		{name: "line without colons", in: "0::/\ngarbage\n", wantErr: true},
		{name: "line with one colon", in: "4:memory\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCgroup([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrParse) {
					t.Fatalf("parseCgroup(%q) = %+v, %v; want an error wrapping ErrParse", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseCgroup(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseCgroup(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseKeyValues(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]uint64
		wantErr bool
	}{
		{
			name: "v1 memory.oom_control",
			in:   "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
			want: map[string]uint64{"oom_kill_disable": 0, "under_oom": 0, "oom_kill": 3},
		},
		{name: "empty", in: "", want: map[string]uint64{}},
		{name: "blank lines and spaces", in: "\n  a   1  \n\n", want: map[string]uint64{"a": 1}},
		{name: "three fields", in: "a 1 2\n", wantErr: true},
		{name: "one field", in: "a\n", wantErr: true},
		{name: "not a number", in: "a x\n", wantErr: true},
		{name: "negative", in: "a -1\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]uint64{}
			err := eachKeyValue("test", []byte(tt.in), func(k []byte, v uint64) { got[string(k)] = v })
			if tt.wantErr {
				if !errors.Is(err, ErrParse) {
					t.Fatalf("eachKeyValue = %v, %v; want an error wrapping ErrParse", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("eachKeyValue: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("eachKeyValue (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseVmstat(t *testing.T) {
	type result struct {
		OOMKills uint64
		OK       bool
	}
	tests := []struct {
		name    string
		in      string
		want    result
		wantErr bool
	}{
		{
			name: "oom_kill among other counters",
			in:   "nr_free_pages 123456\nnr_zone_inactive_anon 42\noom_kill 7\nnuma_hit 9\n",
			want: result{7, true},
		},
		{name: "oom_kill first", in: "oom_kill 2\nnr_free_pages 1\n", want: result{2, true}},
		{name: "oom_kill last without newline", in: "nr_free_pages 1\noom_kill 11", want: result{11, true}},
		{name: "only oom_kill", in: "oom_kill 0\n", want: result{0, true}},
		{name: "kernel before 4.13", in: "nr_free_pages 123456\nnuma_hit 9\n", want: result{0, false}},
		{name: "a longer name is not oom_kill", in: "oom_kill_total 5\nxoom_kill 6\n", want: result{0, false}},
		{name: "empty", in: "", want: result{0, false}},
		{name: "oom_kill not a number", in: "nr_free_pages 1\noom_kill many\n", wantErr: true},
		{name: "oom_kill without a value", in: "nr_free_pages 1\noom_kill \n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, ok, err := parseVmstat([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrParse) {
					t.Fatalf("parseVmstat = %d, %v, %v; want an error wrapping ErrParse", n, ok, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseVmstat: %v", err)
			}
			if diff := cmp.Diff(tt.want, result{n, ok}); diff != "" {
				t.Errorf("parseVmstat (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParsePSI(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    PSI
		wantErr bool
	}{
		{
			name: "some and full",
			in:   "some avg10=1.25 avg60=0.50 avg300=0.10 total=12345\nfull avg10=0.75 avg60=0.20 avg300=0.05 total=6789\n",
			want: PSI{SomeAvg10: 1.25, FullAvg10: 0.75, HasFull: true},
		},
		{
			name: "idle host",
			in:   "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
			want: PSI{HasFull: true},
		},
		{
			name: "some only",
			in:   "some avg10=12.50 avg60=3.00 avg300=1.00 total=99\n",
			want: PSI{SomeAvg10: 12.5},
		},
		{
			name: "fully stalled",
			in:   "some avg10=100.00 avg60=100.00 avg300=100.00 total=1\nfull avg10=100.00 avg60=100.00 avg300=100.00 total=1\n",
			want: PSI{SomeAvg10: 100, FullAvg10: 100, HasFull: true},
		},
		{name: "empty", in: "", wantErr: true},
		{name: "garbage", in: "hello world\n", wantErr: true},
		{name: "full only", in: "full avg10=1.00 avg60=0 avg300=0 total=0\n", wantErr: true},
		{name: "no avg10", in: "some avg60=1.00 avg300=0 total=0\n", wantErr: true},
		{name: "avg10 not a number", in: "some avg10=high avg60=0 avg300=0 total=0\n", wantErr: true},
		{name: "negative avg10", in: "some avg10=-1.00 avg60=0 avg300=0 total=0\n", wantErr: true},
		{name: "NaN avg10", in: "some avg10=NaN avg60=0 avg300=0 total=0\n", wantErr: true},
		{name: "infinite avg10", in: "some avg10=Inf avg60=0 avg300=0 total=0\n", wantErr: true},
		{name: "unknown line kind", in: "some avg10=1.00\nhalf avg10=1.00\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePSI([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrParse) {
					t.Fatalf("parsePSI(%q) = %+v, %v; want an error wrapping ErrParse", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parsePSI(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parsePSI(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseMemoryEvents(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    MemoryEvents
		wantErr bool
	}{
		{
			name: "Linux 6 memory.events",
			in:   "low 0\nhigh 12\nmax 40\noom 2\noom_kill 1\noom_group_kill 0\n",
			want: MemoryEvents{OOM: 2, OOMKill: 1},
		},
		{name: "never under pressure", in: "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n", want: MemoryEvents{}},
		{name: "no oom_kill (before Linux 4.13)", in: "low 0\nhigh 0\nmax 0\noom 3\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "garbled", in: "low 0\noom two\noom_kill 1\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMemoryEvents([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrParse) {
					t.Fatalf("parseMemoryEvents = %+v, %v; want an error wrapping ErrParse", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseMemoryEvents: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseMemoryEvents (-want +got):\n%s", diff)
			}
		})
	}
}

// limitsFile is /proc/PID/limits with the given soft and hard open-file limits.
func limitsFile(soft, hard string) string {
	return "Limit                     Soft Limit           Hard Limit           Units     \n" +
		"Max cpu time              unlimited            unlimited            seconds   \n" +
		"Max stack size            8388608              unlimited            bytes     \n" +
		"Max processes             96364                96364                processes \n" +
		"Max open files            " + pad(soft, 21) + pad(hard, 21) + "files     \n" +
		"Max locked memory         8388608              8388608              bytes     \n"
}

func pad(s string, n int) string { return s + strings.Repeat(" ", max(n-len(s), 1)) }

func TestParseLimits(t *testing.T) {
	type result struct {
		Soft uint64
		OK   bool
	}
	tests := []struct {
		name    string
		in      string
		want    result
		wantErr bool
	}{
		{name: "number", in: limitsFile("1024", "1048576"), want: result{1024, true}},
		{name: "soft below hard", in: limitsFile("20000", "20000"), want: result{20000, true}},
		{name: "unlimited", in: limitsFile("unlimited", "unlimited"), want: result{0, false}},
		{name: "no Max open files line", in: "Limit                     Soft Limit           Hard Limit           Units     \nMax cpu time              unlimited            unlimited            seconds   \n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "soft limit garbled", in: limitsFile("lots", "1048576"), wantErr: true},
		{name: "line cut short", in: "Max open files            1024\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			soft, ok, err := parseLimits([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrParse) {
					t.Fatalf("parseLimits = %d, %v, %v; want an error wrapping ErrParse", soft, ok, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseLimits: %v", err)
			}
			if diff := cmp.Diff(tt.want, result{soft, ok}); diff != "" {
				t.Errorf("parseLimits (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{name: "argv with trailing NUL", in: "/usr/bin/python3\x00-u\x00/srv/app.py\x00", want: []string{"/usr/bin/python3", "-u", "/srv/app.py"}},
		{name: "argument with spaces", in: "sh\x00-c\x00echo hi; sleep 1\x00", want: []string{"sh", "-c", "echo hi; sleep 1"}},
		{name: "empty argument in the middle", in: "a\x00\x00b\x00", want: []string{"a", "", "b"}},
		{name: "rewritten argv without NULs", in: "nginx: worker process", want: []string{"nginx: worker process"}},
		{name: "rewritten argv padded with NULs", in: "postgres: checkpointer\x00\x00\x00\x00", want: []string{"postgres: checkpointer"}},
		{name: "kernel thread", in: "", want: nil},
		{name: "only NULs", in: "\x00\x00", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, parseCmdline([]byte(tt.in))); diff != "" {
				t.Errorf("parseCmdline(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseMemMax(t *testing.T) {
	type result struct {
		Bytes uint64
		OK    bool
	}
	tests := []struct {
		name    string
		in      string
		want    result
		wantErr bool
	}{
		{name: "v2 no limit", in: "max\n", want: result{0, false}},
		{name: "v2 limit", in: "536870912\n", want: result{536870912, true}},
		{name: "zero is a limit", in: "0\n", want: result{0, true}},
		{name: "v1 unlimited (page-rounded LONG_MAX)", in: "9223372036854771712\n", want: result{0, false}},
		{name: "v1 limit", in: "1073741824\n", want: result{1073741824, true}},
		{name: "without newline", in: "4096", want: result{4096, true}},
		{name: "empty", in: "", wantErr: true},
		{name: "garbage", in: "lots\n", wantErr: true},
		{name: "negative", in: "-1\n", wantErr: true},
		{name: "unit suffix", in: "512M\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, ok, err := parseMemMax([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrParse) {
					t.Fatalf("parseMemMax(%q) = %d, %v, %v; want an error wrapping ErrParse", tt.in, v, ok, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseMemMax(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, result{v, ok}); diff != "" {
				t.Errorf("parseMemMax(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParsePidfile(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int
		wantErr string // substring of the error
	}{
		{name: "pid and newline", in: "123\n", want: 123},
		{name: "surrounding spaces", in: " 42 ", want: 42},
		{name: "CRLF", in: "4242\r\n", want: 4242},
		{name: "empty", in: "", wantErr: "empty"},
		{name: "only whitespace", in: " \n", wantErr: "empty"},
		{name: "not a number", in: "abc", wantErr: `"abc" is not a PID`},
		{name: "negative", in: "-1", wantErr: `"-1" is not a PID`},
		{name: "zero", in: "0", wantErr: `"0" is not a PID`},
		{name: "hex", in: "0x10\n", wantErr: "is not a PID"},
		{name: "plus sign", in: "+5\n", wantErr: `"+5" is not a PID`},
		{name: "two pids", in: "123 456\n", wantErr: "more than one PID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePidfile([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParsePidfile(%q) = %d, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePidfile(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParsePidfile(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseBtime(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    uint64
		wantErr bool
	}{
		{name: "real /proc/stat", in: "cpu  1000 0 500 90000 100 0 10 0 0 0\ncpu0 1000 0 500 90000 100 0 10 0 0 0\nintr 12345 0 0\nctxt 67890\nbtime 1767225600\nprocesses 5000\n", want: 1767225600},
		{name: "first line", in: "btime 1\ncpu 0\n", want: 1},
		{name: "last line without newline", in: "cpu 0\nbtime 1767225600", want: 1767225600},
		{name: "trailing spaces", in: "btime 1767225600  \n", want: 1767225600},
		{name: "no btime line", in: "cpu 0\nprocesses 5\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "btime without a value", in: "btime \n", wantErr: true},
		{name: "btime not a number", in: "btime soon\n", wantErr: true},
		{name: "negative", in: "btime -1\n", wantErr: true},
		{name: "overflow", in: "btime 18446744073709551616\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseBtime([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrParse) {
					t.Fatalf("parseBtime(%q) = %d, %v; want an error wrapping ErrParse", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseBtime(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("parseBtime(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}
