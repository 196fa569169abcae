package forensics

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/event"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    procStat
		wantErr bool
	}{
		{
			name: "plain",
			in:   "1234 (myproc) S 1 1234 1234 0 -1 4194560 1000 0 0 0 50 20 0 0 20 0 4 0 98765 123456789 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0",
			want: procStat{pid: 1234, comm: "myproc", state: "S", startTicks: 98765, rssPages: 2048},
		},
		{
			name: "comm with spaces and parens",
			in:   "77 (a) (b c)) R 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 100 3 0",
			want: procStat{pid: 77, comm: "a) (b c)", state: "R", startTicks: 5, rssPages: 3},
		},
		{name: "empty", in: "", wantErr: true},
		{name: "no comm", in: "12 S 1", wantErr: true},
		{name: "bad pid", in: "x (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22", wantErr: true},
		{name: "too few fields", in: "1 (a) S 1 2 3", wantErr: true},
		{name: "bad rss", in: "1 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 x 22", wantErr: true},
		{name: "bad start", in: "1 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 -1 20 21 22", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(procStat{})); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}

func TestParsePressure(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    pressure
		wantErr bool
	}{
		{
			name: "memory",
			in:   "some avg10=1.50 avg60=0.25 avg300=0.00 total=12345\nfull avg10=0.75 avg60=0.10 avg300=0.00 total=678\n",
			want: pressure{Some: psi{1.5, 0.25, 0}, Full: &psi{0.75, 0.10, 0}},
		},
		{name: "cpu has no full", in: "some avg10=3.00 avg60=2.00 avg300=1.00 total=1\n", want: pressure{Some: psi{3, 2, 1}}},
		{name: "empty", in: "", wantErr: true},
		{name: "no some", in: "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", wantErr: true},
		{name: "negative", in: "some avg10=-1 avg60=0 avg300=0 total=0\n", wantErr: true},
		{name: "nan", in: "some avg10=NaN avg60=0 avg300=0 total=0\n", wantErr: true},
		{name: "missing avg60", in: "some avg10=1 avg300=0 total=0\n", wantErr: true},
		{name: "odd line", in: "some avg10=1 avg60=0 avg300=0\nmost avg10=1 avg60=0 avg300=0\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePressure([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr {
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("-want +got:\n%s", diff)
				}
			}
		})
	}
}

const mountinfo = `22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
40 22 253:2 / /var/lib rw,relatime shared:20 - xfs /dev/vdb rw
41 40 253:3 / /var/lib/docker rw,relatime shared:21 - xfs /dev/vdc rw
42 22 0:50 / /mnt/my\040disk rw,relatime - ext4 /dev/sd\040x rw
garbage
`

func TestParseMountinfoAndMountOf(t *testing.T) {
	ms := parseMountinfo([]byte(mountinfo))
	want := []mount{
		{"/", "ext4", "/dev/vda"},
		{"/proc", "proc", "proc"},
		{"/var/lib", "xfs", "/dev/vdb"},
		{"/var/lib/docker", "xfs", "/dev/vdc"},
		{"/mnt/my disk", "ext4", "/dev/sd x"},
	}
	if diff := cmp.Diff(want, ms); diff != "" {
		t.Fatalf("parseMountinfo -want +got:\n%s", diff)
	}
	for path, want := range map[string]string{
		"/usr/bin/app":             "/",
		"/var/lib":                 "/var/lib",
		"/var/lib/docker/overlay2": "/var/lib/docker",
		"/var/libx/y":              "/",
		"/var/lib/../lib/x":        "/var/lib",
		"/mnt/my disk/data":        "/mnt/my disk",
		"/proc/1/cwd":              "/proc",
	} {
		if got := mountOf(ms, path); got != want {
			t.Errorf("mountOf(%q) = %q, want %q", path, got, want)
		}
	}
	if got := mountOf(nil, "/x"); got != "" {
		t.Errorf("mountOf(nil) = %q, want empty", got)
	}
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/a\040b`:    "/a b",
		`/tab\011x`:  "/tab\tx",
		`/back\134`:  `/back\`,
		`/short\04`:  `/short\04`,
		`/notoct\09`: `/notoct\09`,
		`\`:          `\`,
		`plain`:      `plain`,
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseLoadavg(t *testing.T) {
	tests := []struct {
		in      string
		want    [3]float64
		wantErr bool
	}{
		{in: "0.58 0.81 0.65 1/94 23169\n", want: [3]float64{0.58, 0.81, 0.65}},
		{in: "1 2 3", want: [3]float64{1, 2, 3}},
		{in: "", wantErr: true},
		{in: "1 2", wantErr: true},
		{in: "1 x 3 1/2 3", wantErr: true},
		{in: "-1 2 3", wantErr: true},
		{in: "Inf 2 3", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseLoadavg([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("parseLoadavg(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); !tt.wantErr && diff != "" {
			t.Errorf("parseLoadavg(%q) -want +got:\n%s", tt.in, diff)
		}
	}
}

func TestInsertTop(t *testing.T) {
	var top []procStat
	for i, rss := range []int64{5, 1, 9, 3, 9, 7, 2, 8} {
		top = insertTop(top, procStat{pid: i + 1, rssPages: rss}, 3)
	}
	var got [][2]int64
	for _, p := range top {
		got = append(got, [2]int64{int64(p.pid), p.rssPages})
	}
	if diff := cmp.Diff([][2]int64{{3, 9}, {5, 9}, {8, 8}}, got); diff != "" {
		t.Errorf("-want +got:\n%s", diff)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[uint64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB",
		5 << 30: "5.0 GiB", 1<<64 - 1: "16.0 EiB",
	} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// fakeProc writes a procfs tree with the files the host collector reads.
func fakeProc(t *testing.T, procs map[int][3]string) string {
	t.Helper()
	root := t.TempDir()
	write := func(rel, s string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("meminfo", "MemTotal:       16384000 kB\nMemFree:         1000000 kB\nMemAvailable:    4096000 kB\nBuffers:          100000 kB\nCached:          2000000 kB\nSwapTotal:       2097152 kB\nSwapFree:        1048576 kB\n")
	write("loadavg", "3.50 2.25 1.00 2/300 4242\n")
	write("pressure/memory", "some avg10=12.50 avg60=4.00 avg300=1.00 total=99\nfull avg10=6.25 avg60=2.00 avg300=0.50 total=50\n")
	write("self/mountinfo", "22 1 253:1 / / rw - ext4 /dev/vda rw\n")
	for pid, p := range procs { // stat, cmdline, status
		write(fmt.Sprintf("%d/stat", pid), p[0])
		write(fmt.Sprintf("%d/cmdline", pid), p[1])
		write(fmt.Sprintf("%d/status", pid), p[2])
	}
	return root
}

func statLine(pid int, comm string, start uint64, rssPages int64) string {
	return fmt.Sprintf("%d (%s) S 1 %d %d 0 -1 0 0 0 0 0 5 5 0 0 20 0 1 0 %d 1000 %d 0 0", pid, comm, pid, pid, start, rssPages)
}

func TestHostCollectorOnFixture(t *testing.T) {
	procs := map[int][3]string{}
	for i := 1; i <= 7; i++ {
		procs[100+i] = [3]string{statLine(100+i, fmt.Sprintf("p%d", i), 10, int64(i*1000)), fmt.Sprintf("/bin/p%d\x00-n\x00%d\x00", i, i), "Name:\tp\nUid:\t0\t0\t0\t0\n"}
	}
	// The biggest: our incident's process, with a secret on its command line.
	procs[4242] = [3]string{statLine(4242, "leaky app", 777, 1<<20), "/opt/leaky\x00--password\x00hunter2\x00--db=postgres://u:pw@db/x\x00", "Name:\tleaky\nUid:\t65534\t65534\t65534\t65534\n"}
	// A kernel thread: no command line.
	procs[2] = [3]string{statLine(2, "kthreadd", 1, 9000), "", "Name:\tkthreadd\nUid:\t0\t0\t0\t0\n"}
	// Garbage is skipped.
	procs[9] = [3]string{"garbage", "", ""}
	root := fakeProc(t, procs)

	disk := t.TempDir()
	c := NewHostCollector(root, []string{disk}).(*hostCollector)
	c.pageSize = 4096
	inc := &Incident{Process: &event.Process{PID: 4242, StartTicks: 777, Name: "leaky app", Exe: "/opt/leaky"}}
	s, err := c.Collect(context.Background(), inc)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, f := range s.Fields {
		fields[f.Key] = f.Value
	}
	for key, want := range map[string]string{
		"Memory":          "3.9 GiB available of 15.6 GiB (75.0% used)",
		"Swap":            "1.0 GiB used of 2.0 GiB (50.0%)",
		"Load":            "3.50 2.25 1.00 (1, 5, 15 min)",
		"Memory pressure": "some avg10=12.50 avg60=4.00, full avg10=6.25 avg60=2.00 (% of time stalled)",
	} {
		if fields[key] != want {
			t.Errorf("%s = %q, want %q", key, fields[key], want)
		}
	}
	// The fixture's only mount is /: the temp dir and the exe are both on it.
	if v := fields["Disk /"]; !strings.Contains(v, "holds "+disk+", exe /opt/leaky") {
		t.Errorf("Disk / = %q, want it to hold the temp dir and the exe", v)
	}
	wantLines := []string{
		"Top 5 processes by RSS:",
		"      PID  USER                 RSS  COMMAND",
		"*    4242  nobody           4.0 GiB  /opt/leaky --password *** --db=postgres://u:***@db/x",
		"        2  root            35.2 MiB  [kthreadd]",
		"      107  root            27.3 MiB  /bin/p7 -n 7",
		"      106  root            23.4 MiB  /bin/p6 -n 6",
		"      105  root            19.5 MiB  /bin/p5 -n 5",
		"  (* the process of this incident)",
	}
	if diff := cmp.Diff(wantLines, s.Lines); diff != "" {
		t.Errorf("lines -want +got:\n%s", diff)
	}
	if len(s.Notes) != 0 {
		t.Errorf("notes = %q, want none", s.Notes)
	}
}

func TestHostCollectorSaysWhatIsMissing(t *testing.T) {
	root := t.TempDir() // an empty procfs: nothing readable
	s, err := NewHostCollector(root, []string{filepath.Join(root, "no-such-dir")}).Collect(context.Background(), &Incident{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Fields) != 0 {
		t.Errorf("fields = %q, want none", s.Fields)
	}
	joined := strings.Join(s.Notes, "\n")
	for _, want := range []string{"memory:", "load:", "memory pressure: " + root + "/pressure/memory absent", "mounts:", "disk " + root + "/no-such-dir", "top processes: none readable"} {
		if !strings.Contains(joined, want) {
			t.Errorf("notes lack %q:\n%s", want, joined)
		}
	}
}

// TestHostCollectorOnThisHost runs against the real /proc and checks what
// any Linux host has, and that it is fast enough for the report's budget.
func TestHostCollectorOnThisHost(t *testing.T) {
	self := os.Getpid()
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	st, err := parseProcStat(b)
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	inc := &Incident{Process: &event.Process{PID: self, StartTicks: st.startTicks, Exe: exe}}
	start := time.Now()
	s, err := NewHostCollector("/proc", []string{"/"}).Collect(context.Background(), inc)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, f := range s.Fields {
		keys[f.Key] = true
	}
	for _, k := range []string{"Memory", "Swap", "Load", "Disk /"} {
		if !keys[k] {
			t.Errorf("no %s field in %+v (notes %q)", k, s.Fields, s.Notes)
		}
	}
	cwd, _ := os.Getwd()
	found := false
	for _, f := range s.Fields {
		if strings.HasPrefix(f.Key, "Disk ") && strings.Contains(f.Value, "cwd "+cwd) {
			found = true
		}
	}
	if !found {
		t.Errorf("no disk holds our cwd %s: %+v", cwd, s.Fields)
	}
	if len(s.Lines) < 3 || !strings.HasPrefix(s.Lines[0], "Top ") {
		t.Errorf("no top table: %q", s.Lines)
	}
	// A bound against a pathological scan (one that walks a huge tree or
	// waits on something), loose enough for a loaded machine: the speed is
	// bench/report_latency.sh's to measure.
	if took > 10*time.Second {
		t.Errorf("took %v, want well under ten seconds", took)
	}
	t.Logf("host section in %v:\n%s", took, render(s))
}

func TestHostCollectorStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := NewHostCollector("/proc", []string{"/"}).Collect(ctx, &Incident{})
	if err == nil {
		t.Fatal("want the context's error")
	}
}

// render is how a test prints a section when it logs one.
func render(s Section) string {
	var b strings.Builder
	b.WriteString("== " + s.Title + " ==\n")
	for _, f := range s.Fields {
		b.WriteString(f.Key + ": " + f.Value + "\n")
	}
	for _, l := range s.Lines {
		b.WriteString(l + "\n")
	}
	for _, n := range s.Notes {
		b.WriteString("note: " + n + "\n")
	}
	return b.String()
}
