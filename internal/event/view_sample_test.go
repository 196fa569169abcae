package event_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/localsre/sre-agent/internal/event"
	"github.com/localsre/sre-agent/internal/event/eventtest"
)

func BenchmarkParseSample(b *testing.B) {
	lines := eventtest.SampleLines(1000)
	in := event.NewInterner()
	var s event.SampleView
	b.SetBytes(int64(len(lines[0])))
	i := 0
	for b.Loop() {
		if err := event.ParseSample(lines[i%len(lines)], &s, in); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// FuzzParseSample checks the hand-written sample decoder against
// encoding/json: for any line both accept, they agree on every field the
// detectors use; and it never panics.
func FuzzParseSample(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"kind":"sample","ts":"2026-01-01T00:00:00.000000000Z","host":"h","src":"sre-sample","target":"t","seq":1,"up":true,"matches":1,"process":{"pid":42,"ppid":1,"start":"2026-01-01T00:00:00Z","start_ticks":7,"name":"t","args":["a","b\"c"],"state":"S","cpu_pct":1.5,"cpu_time_s":0,"rss_bytes":1000,"vms_bytes":2000,"threads":1,"fds":3,"fds_limit":1024},"system":{"mem_total_bytes":10,"mem_available_bytes":5,"disk":[{"path":"/"}],"psi_mem_some_avg10":0.5,"oom_kills":2}}`,
		`{"ts":"2026-01-01T00:00:00+02:00","target":"t\u00e9","up":false,"exit":{"pid":3,"noticed":"pidfd","code":1,"signal":"SIGKILL","uptime_s":1e2}}`,
		`{"ts":"2026-02-30T00:00:00Z","target":"t","up":false}`,
		`{"ts":"2026-01-01T00:00:00.5Z","target":"t","up":true,"process":null}`,
		`{"target":"x","up":true,"ts":"2026-01-01T00:00:00Z","process":{"pid":1,"start_ticks":1,"rss_bytes":-1,"threads":1}}`,
		`{"ts":"2026-01-01T00:00:00Z","target":"web","up":false,"container":{"id":"0991c5b74a51","name":"web","state":"restarting","health":"unhealthy","health_output":"no \"x\"","restart_count":2,"exit_code":137,"oom_killed":true},"exit":{"pid":3,"noticed":"docker_event","code":137,"oom_killed":true,"uptime_s":1}}`,
		`{"ts":"2026-01-01T00:00:00Z","target":"web","up":false,"container":{"name":"web"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var s event.SampleView
		if event.ParseSample(line, &s, nil) != nil {
			return
		}
		var want event.Sample
		if json.Unmarshal(line, &want) != nil {
			return // not valid JSON: the ndjson reader never hands such a line over
		}
		if !exactKeys(line) {
			return // encoding/json matches keys case-insensitively; the schema does not
		}
		if !s.TS.Equal(want.TS.Time) || s.Target != want.Target || s.Host != want.Host || s.Up != want.Up {
			t.Fatalf("%s:\nheader %v %q %q %v, encoding/json %v %q %q %v", line, s.TS, s.Target, s.Host, s.Up, want.TS, want.Target, want.Host, want.Up)
		}
		if p := want.Process; p != nil && s.HasProc {
			if s.PID != p.PID || s.StartTicks != p.StartTicks || s.RSS != p.RSSBytes || s.Threads != p.Threads || s.Name != p.Name {
				t.Fatalf("%s:\nprocess %+v, encoding/json %+v", line, s, p)
			}
		}
		if x := want.Exit; x != nil && s.HasExit && (s.Exit.PID != x.PID || s.Exit.Signal != x.Signal || s.Exit.Noticed != x.Noticed) {
			t.Fatalf("%s:\nexit %+v, encoding/json %+v", line, s.Exit, x)
		}
		if c := want.Container; c != nil && s.HasContainer && (s.Container.ID != c.ID || s.Container.State != c.State ||
			s.Container.Health != c.Health || s.Container.HealthOutput != c.HealthOutput || s.Container.RestartCount != c.RestartCount) {
			t.Fatalf("%s:\ncontainer %+v, encoding/json %+v", line, s.Container, c)
		}
	})
}

// exactKeys reports whether every object key in line is free of upper-case
// and non-ASCII letters, where encoding/json's case-insensitive matching
// cannot differ from the exact match the schema asks for.
func exactKeys(line []byte) bool {
	var v any
	if json.Unmarshal(line, &v) != nil {
		return false
	}
	var walk func(any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				for _, c := range []byte(k) {
					if c >= 'A' && c <= 'Z' || c >= 0x80 {
						return false
					}
				}
				if !walk(e) {
					return false
				}
			}
		case []any:
			for _, e := range x {
				if !walk(e) {
					return false
				}
			}
		}
		return true
	}
	return walk(v)
}

// vms_bytes, exiting and state only tell and label a teardown reading: a
// bad value leaves them out and keeps the sample.
func TestParseTeardownFields(t *testing.T) {
	line := func(vms, exiting, state string) []byte {
		ex := ""
		if exiting != "" {
			ex = `,"exiting":` + exiting
		}
		return []byte(`{"v":1,"kind":"sample","ts":"2026-01-01T00:00:10Z","host":"h","src":"sre-sample","target":"api","seq":1,"up":true,"matches":1,` +
			`"process":{"pid":42,"start_ticks":7,"name":"api","state":` + state + ex + `,"rss_bytes":1000,"vms_bytes":` + vms + `,"threads":3}}`)
	}
	tests := []struct {
		name, vms, exiting, state string
		wantVMS                   event.Opt[uint64]
		wantExiting               bool
		wantState                 string
	}{
		{name: "live", vms: "2000", state: `"S"`, wantVMS: event.Some[uint64](2000), wantState: "S"},
		{name: "torn down", vms: "0", state: `"R"`, wantVMS: event.Some[uint64](0), wantState: "R"},
		{name: "exiting with its memory", vms: "2000", exiting: "true", state: `"R"`, wantVMS: event.Some[uint64](2000), wantExiting: true, wantState: "R"},
		{name: "exiting false", vms: "2000", exiting: "false", state: `"S"`, wantVMS: event.Some[uint64](2000), wantState: "S"},
		{name: "null", vms: "null", exiting: "null", state: "null"},
		{name: "a string and a number", vms: `"lots"`, exiting: `"yes"`, state: "7"},
		{name: "negative, an object", vms: "-1", exiting: `{"x":1}`, state: `{"x":1}`},
		{name: "exiting a number", vms: "2000", exiting: "1", state: `"S"`, wantVMS: event.Some[uint64](2000), wantState: "S"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s event.SampleView
			if err := event.ParseSample(line(tt.vms, tt.exiting, tt.state), &s, event.NewInterner()); err != nil {
				t.Fatal(err)
			}
			if s.VMS != tt.wantVMS || s.Exiting != tt.wantExiting || s.State != tt.wantState || s.RSS != 1000 || s.Threads != 3 {
				t.Errorf("VMS %+v exiting %v state %q rss %d threads %d; want VMS %+v exiting %v state %q",
					s.VMS, s.Exiting, s.State, s.RSS, s.Threads, tt.wantVMS, tt.wantExiting, tt.wantState)
			}
		})
	}
}

// TestSampleViewMatchesSample holds the view to the encoder: for samples
// with every field set at random (the filler of TestSampleAppendJSONRandom),
// what ReadSample reads of AppendJSON's line is what the sample holds.
func TestSampleViewMatchesSample(t *testing.T) {
	f := &filler{t: t, r: rand.New(rand.NewPCG(13, 6))}
	in := event.NewInterner()
	n := 2000
	if testing.Short() {
		n = 200
	}
	read, encoded := 0, 0
	for i := range n {
		var s event.Sample
		f.fill(reflect.ValueOf(&s).Elem(), "Sample")
		s.V, s.Kind = event.Version, event.KindSample
		// What makes a sample usable (ParseSample), so that most are read.
		if s.Target == "" {
			s.Target = "t"
		}
		// The view reads counts as non-negative ints of at most 31 bits.
		small := func(n int) int { return int(uint(n) % (1 << 31)) }
		s.Matches = small(s.Matches)
		if p := s.Process; p != nil {
			p.PID, p.Threads = small(p.PID)|1, small(p.Threads)
			if p.FDs != nil {
				*p.FDs = small(*p.FDs)
			}
		}
		if x := s.Exit; x != nil {
			x.PID = small(x.PID) | 1
			if x.Code != nil {
				*x.Code = small(*x.Code)
			}
		}
		if c := s.Container; c != nil {
			c.RestartCount = small(c.RestartCount)
			if c.ExitCode != nil {
				*c.ExitCode = small(*c.ExitCode)
			}
		}
		if p := s.Pod; p != nil {
			p.Namespace, p.Name = "ns"+p.Namespace, "pod"+p.Name // what a pod sample must have
		}
		s.Up = s.Up && s.Process != nil && s.Exit == nil
		line, err := s.AppendJSON(nil)
		if err != nil {
			continue // NaN or Inf: no line
		}
		encoded++
		var v event.SampleView
		h, err := event.ReadSample(line, &v, in)
		if h.V == nil || *h.V != 1 || h.Kind == nil || *h.Kind != event.KindSample {
			t.Fatalf("iteration %d: head %v, %v", i, h, err)
		}
		if err != nil {
			if !errors.Is(err, event.ErrBadSample) {
				t.Fatalf("iteration %d: %v", i, err)
			}
			continue // the filler's target may be empty, a pid zero…
		}
		// The line as encoding/json reads it: strings come back with
		// invalid UTF-8 replaced, as AppendJSON wrote them. (A year past
		// 9999 it cannot read, and the view takes as no start.)
		var back event.Sample
		if err := json.Unmarshal(line, &back); err != nil {
			continue
		}
		read++
		if d := cmp.Diff(want(&back, line), v, cmpopts.IgnoreUnexported(event.SampleView{})); d != "" {
			t.Fatalf("iteration %d: view differs from the sample (-want +got):\n%s\n%s", i, d, line)
		}
	}
	if read < encoded/2 {
		t.Errorf("%d of %d encoded random samples were usable: the test reads too few", read, encoded)
	}
}

// want is the view of s, field by field from the record.
func want(s *event.Sample, line []byte) event.SampleView {
	v := event.SampleView{Raw: line, TS: s.TS.Time.UTC(), Host: s.Host, Target: s.Target, Up: s.Up, Matches: s.Matches}
	if p := s.Process; p != nil {
		v.HasProc, v.PID, v.StartTicks, v.Start, v.Name, v.State = true, p.PID, p.StartTicks, p.Start.Time.UTC(), p.Name, p.State
		v.Exiting = p.Exiting
		v.Cgroup, v.RSS, v.VMS, v.Threads = p.Cgroup, p.RSSBytes, event.Some(p.VMSBytes), p.Threads
		v.CPU, v.FDs, v.FDsLimit = opt(p.CPUPct), opt(p.FDs), opt(p.FDsLimit)
		v.CgroupMax, v.CgroupOOMs = opt(p.CgroupMemMaxBytes), opt(p.CgroupOOMKills)
	}
	if y := s.System; y != nil {
		v.MemTotal, v.MemAvail, v.PSISome, v.OOMKills = opt(y.MemTotalBytes), opt(y.MemAvailableBytes), opt(y.PSIMemSomeAvg10), opt(y.OOMKills)
	}
	if x := s.Exit; x != nil {
		v.HasExit = true
		v.Exit = event.ExitView{PID: x.PID, Noticed: x.Noticed, Code: opt(x.Code), Signal: x.Signal,
			UptimeS: event.Some(x.UptimeS), OOMKilled: opt(x.OOMKilled)}
	}
	if c := s.Container; c != nil {
		v.HasContainer = true
		v.Container = event.ContainerView{ID: c.ID, State: c.State, Health: c.Health, HealthOutput: c.HealthOutput,
			RestartCount: c.RestartCount, ExitCode: opt(c.ExitCode), OOMKilled: opt(c.OOMKilled)}
	}
	v.Pod = s.Pod
	return v
}

func opt[T any](p *T) event.Opt[T] {
	if p == nil {
		return event.Opt[T]{}
	}
	return event.Some(*p)
}

// readSampleOracle is ReadSample built from its parts: ReadHead for the
// line, ParseSample for a sample.
func readSampleOracle(line []byte) (event.Head, error, event.SampleView, error) {
	h, err := event.ReadHead(line)
	var v event.SampleView
	if err != nil || h.Kind == nil || *h.Kind != event.KindSample {
		return h, err, v, nil
	}
	return h, err, v, event.ParseSample(line, &v, nil)
}

func checkReadSample(t *testing.T, line []byte) {
	t.Helper()
	wh, werr, wv, wverr := readSampleOracle(line)
	var v event.SampleView
	h, err := event.ReadSample(line, &v, nil)
	if !reflect.DeepEqual(h, wh) {
		t.Fatalf("%.100q: head %s, ReadHead %s", line, headString(h), headString(wh))
	}
	switch {
	case werr != nil:
		if err == nil || err.Error() != werr.Error() {
			t.Fatalf("%.100q: error %v, ReadHead says %v", line, err, werr)
		}
		return
	case wverr != nil:
		if !errors.Is(err, event.ErrBadSample) || err.Error() != wverr.Error() {
			t.Fatalf("%.100q: error %v, ParseSample says %v", line, err, wverr)
		}
		return
	case err != nil:
		t.Fatalf("%.100q: error %v, want none", line, err)
	}
	if wh.Kind != nil && *wh.Kind == event.KindSample {
		if d := cmp.Diff(wv, v, cmpopts.IgnoreUnexported(event.SampleView{}), cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("%.100q: view differs from ParseSample's (-want +got):\n%s", line, d)
		}
	}
}

func headString(h event.Head) string {
	s := "v="
	if h.V != nil {
		s += fmt.Sprint(*h.V)
	} else {
		s += "none"
	}
	if h.Kind != nil {
		return s + " kind=" + *h.Kind
	}
	return s + " kind=none"
}

// readSampleLines start as a sample does and may yet be no record, another
// record, or an unusable sample.
var readSampleLines = []string{
	`{"v":1,"kind":"sample","ts":"2026-01-01T00:00:00Z","target":"t","up":true,"process":{"pid":1,"start_ticks":1,"rss_bytes":1,"threads":1}}`,
	`{"v":1,"kind":"sample"}`,
	`{"v":1,"kind":"sample","x":}`,
	`{"v":1,"kind":"sample","x":1} x`,
	`{"v":1,"kind":"sample","x":1}}`,
	`{"v":1,"kind":"sample","kind":"event"}`,
	`{"v":1,"kind":"sample","v":2}`,
	`{"v":1,"kind":"sample","v":null}`,
	`{"v":1,"kind":"sample","KIND":"event"}`,
	`{"v":1,"kind":"sample","\u006bind":"event"}`,
	`{"v":1,"kind":"sample","s":"a` + "\x01" + `b"}`,
	`{"v":1,"kind":"sample","s":"\q"}`,
	`{"v":2,"kind":"sample"}`,
	`{"v":1,"kind":"sampl\u0065","ts":"2026-01-01T00:00:00Z","target":"t","up":false}`,
	` {"v" : 1, "kind" : "sample", "ts":"2026-01-01T00:00:00Z","target":"t","up":false} `,
	`{"kind":"sample","v":1,"ts":"2026-01-01T00:00:00Z","target":"t","up":false}`,
	`{"v":1,"kind":"event","ts":"2026-01-01T00:00:00Z","target":"t","up":false}`,
}

// TestReadSample: ReadSample answers as ReadHead and ParseSample together.
func TestReadSample(t *testing.T) {
	for _, l := range readSampleLines {
		checkReadSample(t, []byte(l))
	}
	for _, l := range eventtest.SampleLines(3) {
		checkReadSample(t, l)
	}
}

// FuzzReadSample: for any line, ReadSample answers as ReadHead and
// ParseSample together.
func FuzzReadSample(f *testing.F) {
	for _, l := range readSampleLines {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, line []byte) { checkReadSample(t, line) })
}

// A sample's container: what a detector reads, and what makes it unusable.
func TestParseSampleContainer(t *testing.T) {
	const head = `{"v":1,"kind":"sample","ts":"2026-01-01T00:00:00Z","target":"web","up":false,`
	tests := []struct {
		name, line string
		want       event.ContainerView
		err        string
	}{
		{name: "a death", line: head + `"container":{"id":"0991c5b74a51","name":"web","state":"exited","restart_count":2,"exit_code":137,"oom_killed":true}}`,
			want: event.ContainerView{ID: "0991c5b74a51", State: "exited", RestartCount: 2, ExitCode: event.Some(137), OOMKilled: event.Some(true)}},
		{name: "unhealthy", line: head + `"container":{"id":"0991c5b74a51","state":"running","health":"unhealthy","health_output":"a\nb"}}`,
			want: event.ContainerView{ID: "0991c5b74a51", State: "running", Health: "unhealthy", HealthOutput: "a\nb"}},
		{name: "null", line: head + `"container":null}`},
		{name: "no id", line: head + `"container":{"name":"web","state":"running"}}`, err: "container.id: missing"},
		{name: "not an object", line: head + `"container":"web"}`, err: "container: not an object"},
		{name: "a state of another kind", line: head + `"container":{"id":"0991c5b74a51","state":5}}`, err: "container: malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v event.SampleView
			err := event.ParseSample([]byte(tt.line), &v, nil)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.HasContainer != (tt.want.ID != "") {
				t.Errorf("HasContainer %t", v.HasContainer)
			}
			if d := cmp.Diff(tt.want, v.Container); d != "" {
				t.Errorf("container (-want +got):\n%s", d)
			}
		})
	}
}
