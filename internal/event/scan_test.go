package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// Lines as the tools write them: an archived crash event with its history
// (the longest line of a score archive), a memory_high event (the most
// common one) and a sample as sre-sample writes it.
const (
	benchCrashLine  = `{"v":1,"kind":"event","ts":"2026-10-28T07:05:38.000000000Z","host":"vm","src":"sre-detect","id":"20261028T070538.000000000Z-0000000000000000","type":"crash","severity":"critical","target":"app-000","msg":"app (pid 4242) of app-000 was killed by SIGKILL after 7.4s up.","process":{"pid":4242,"ppid":1,"start":"2026-01-01T00:00:00.000000000Z","start_ticks":123456,"name":"app","exe":"/usr/bin/app","user":"app","state":"S","cpu_time_s":12.5,"rss_bytes":104857600,"vms_bytes":524288000,"threads":12},"system":{"mem_total_bytes":8589934592,"mem_available_bytes":4294967296,"load1":0.42},"detail":{"noticed":"pidfd","signal":"SIGKILL","uptime_s":7.35,"oom_suspected":false,"history":[{"ts":"2026-10-28T07:05:38.000000000Z","rss_bytes":104857600,"threads":12},{"ts":"2026-10-28T07:05:38.000000000Z","rss_bytes":104867600,"threads":12}]},"report":"/var/lib/sre/reports/x.txt"}`
	benchMemoryLine = `{"v":1,"kind":"event","ts":"2026-10-28T07:57:30.400000000Z","host":"vm","src":"sre-detect","id":"20261028T075730.400000000Z-00000000000004b0","type":"memory_high","severity":"warning","target":"app-000","msg":"app (pid 4242) of app-000 uses 100 MiB, at or above 90 MiB for 10s.","process":{"pid":4242,"ppid":1,"start":"2026-01-01T00:00:00.000000000Z","start_ticks":123456,"name":"app","exe":"/usr/bin/app","user":"app","state":"S","cpu_time_s":12.5,"rss_bytes":104857600,"vms_bytes":524288000,"threads":12},"system":{"mem_total_bytes":8589934592,"mem_available_bytes":4294967296,"load1":0.42},"detail":{"condition":"process_rss","value":104857600,"threshold":94371840,"for_s":10}}`
	benchSampleLine = `{"v":1,"kind":"sample","ts":"2026-01-01T00:16:40.000000000Z","host":"vm","src":"sre-sample","target":"api","seq":1001,"up":true,"matches":1,` +
		`"process":{"pid":4242,"ppid":1,"start":"2026-01-01T00:00:00.000000000Z","start_ticks":14,"name":"api","exe":"/usr/bin/api",` +
		`"args":["/usr/bin/api","--addr","0.0.0.0:8080","--workers","4","--log-level","info","--config","/etc/api/config.yaml"],` +
		`"user":"api","uid":1000,"state":"S","cpu_pct":0.5,"cpu_time_s":1000.25,"rss_bytes":104914944,"vms_bytes":35999744,"threads":11,"fds":61,` +
		`"fds_limit":32768,"cgroup":"/system.slice/api.service","cgroup_oom_kills":0},` +
		`"system":{"mem_total_bytes":25276063744,"mem_available_bytes":24938176512,"swap_total_bytes":0,"swap_used_bytes":0,"load1":0.94,"load5":1.04,"load15":0.6,` +
		`"disk":[{"path":"/","total_bytes":270553174016,"used_bytes":12459864064,"free_bytes":85333430272,"used_pct":12.74}],` +
		`"psi_mem_some_avg10":0,"psi_mem_full_avg10":0,"oom_kills":0},` +
		`"unavailable":{"process.exe":"permission denied: another user's process or a restricted /proc (run as its user or root)"}}`
)

// BenchmarkHeader is the whole-line check every stage runs on a line it
// does not decode itself: sre-score runs it on every archived record.
func BenchmarkHeader(b *testing.B) {
	for _, bc := range []struct{ name, line string }{
		{"crash", benchCrashLine},
		{"memory_high", benchMemoryLine},
		{"sample", benchSampleLine},
	} {
		b.Run(bc.name, func(b *testing.B) {
			line := []byte(bc.line)
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := fastHeader(line); !ok {
					b.Fatal("not read by the fast path")
				}
			}
		})
	}
}

// headerSeeds cover every JSON token kind, escapes, invalid UTF-8, control
// bytes, numbers at the edges, repeated and folded keys and whitespace
// everywhere, valid and not.
var headerSeeds = []string{
	benchCrashLine, benchMemoryLine, benchSampleLine,
	`{}`, `[]`, `""`, `0`, `-0`, `true`, `false`, `null`, `{"v":1,"kind":"x"}`,
	`{"v":1,"kind":"x","a":{},"b":[],"c":[{}],"d":[[]],"e":{"f":{"g":[1,"2",true,false,null,{"h":-0.5e+3}]}}}`,
	`{"v":1,"kind":"x","n":[0,-0,1,-1,0.5,-0.5,1e5,1E5,1e+5,1e-5,1.5e400,-1e400,1e400,123456789012345678901234567890]}`,
	`{"v":1,"kind":"x","n":01}`, `{"v":1,"kind":"x","n":1.}`, `{"v":1,"kind":"x","n":.5}`, `{"v":1,"kind":"x","n":-}`,
	`{"v":1,"kind":"x","n":1e}`, `{"v":1,"kind":"x","n":1e+}`, `{"v":1,"kind":"x","n":+1}`, `{"v":1,"kind":"x","n":-01}`,
	`{"v":1,"kind":"x","n":0x1}`, `{"v":1,"kind":"x","n":1.5.5}`, `{"v":1,"kind":"x","n":NaN}`, `{"v":1,"kind":"x","n":Infinity}`,
	`{"v":-0,"kind":"x"}`, `{"v":01,"kind":"x"}`, `{"v":1.,"kind":"x"}`, `{"v":.5,"kind":"x"}`, `{"v":1e400,"kind":"x"}`,
	`{"v":1,"kind":"x","s":"\"\\\/\b\f\n\r\t\u0041\u00e9\uD83D\uDE00\ud800"}`, `{"v":1,"kind":"x","s":"\x"}`,
	`{"v":1,"kind":"x","s":"\u12"}`, `{"v":1,"kind":"x","s":"\u12G4"}`, `{"v":1,"kind":"x","s":"\`, `{"v":1,"kind":"x","s":"abc`,
	`{"v":1,"kind":"x","s":"` + "\xff\xfe\xc3\x28\xe2\x82" + `"}`, `{"v":1,"kind":"` + "\xc3\xa9" + `"}`,
	`{"v":1,"kind":"x","s":"` + "a\x00b" + `"}`, `{"v":1,"kind":"x","s":"` + "a\x1fb" + `"}`, `{"v":1,"kind":"x","s":"` + "a\x7fb" + `"}`,
	`{"v":1,"kind":"x","s":"` + "a\tb" + `"}`, `{"v":1,"kind":"x"}` + "\x00", "\x00" + `{"v":1,"kind":"x"}`,
	`{"v":1,"kind":"x","v":1}`, `{"v":1,"kind":"x","kind":"y"}`, `{"v":1,"kind":"x","a":1,"a":2}`,
	`{"V":1,"kind":"x"}`, `{"v":1,"Kind":"x"}`, `{"v":1,"KIND":"x"}`, `{"v":1,"` + "\xe2\x84\xaa" + `ind":"x"}`,
	`{"\u0076":1,"kind":"x"}`, `{"v":1,"kin\u0064":"x"}`, `{"v":1,"kind":"\u0078"}`, `{"v":"1","kind":"x"}`, `{"v":1,"kind":1}`,
	" \t\r\n{ \t\r\n\"v\" \t\r\n: \t\r\n1 \t\r\n, \t\r\n\"kind\" \t\r\n: \t\r\n\"x\" \t\r\n, \"a\" : [ 1 , { } , [ ] ] \t\r\n} \t\r\n",
	"{\"v\":1,\"kind\":\"x\",\"a\":[1\f]}", "{\"v\":1,\"kind\":\"x\"}\v",
	`{"v":1,"kind":"x",}`, `{"v":1,"kind":"x","a":[1,]}`, `{"v":1,"kind":"x","a":[,1]}`, `{"v":1,"kind":"x","a":[1 2]}`,
	`{"v":1,"kind":"x","a":{"b"}}`, `{"v":1,"kind":"x","a":{"b":}}`, `{"v":1,"kind":"x","a":{1:2}}`, `{"v":1,"kind":"x","a":]`,
	`{"v":1,"kind":"x","a":[}`, `{"v":1,"kind":"x","a":{]`, `{"v":1,"kind":"x","a":tru}`, `{"v":1,"kind":"x","a":nul}`,
	`{"v":1,"kind":"x","a":fals}`, `{"v":1,"kind":"x","a":truex}`, `{"v":1,"kind":"x"}{}`, `{"v":1,"kind":"x"}]`, `{"v":1 "kind":"x"}`,
	`{"v":1,"kind":"x","a":` + strings.Repeat("[", fastDepth) + strings.Repeat("]", fastDepth) + `}`,
	`{"v":1,"kind":"x","a":` + strings.Repeat("[", fastDepth+1) + strings.Repeat("]", fastDepth+1) + `}`,
	`{"v":1,"kind":"x","a":` + strings.Repeat(`{"a":`, fastDepth) + `1` + strings.Repeat("}", fastDepth) + `}`,
	`{"v":1,"kind":"x","a":` + strings.Repeat(`[{"a":`, 40) + `1` + strings.Repeat("}]", 40) + `}`,
	`{"v":1,"kind":"x","a":` + strings.Repeat("[", fastDepth) + strings.Repeat("]", fastDepth-1) + `}`,
}

// FuzzValidate checks the validator on its own against encoding/json: a
// value it accepts is valid JSON, and a valid value it refuses is nested
// deeper than it follows; a line fastHeader reads is one json.Unmarshal
// reads, with the same v and kind.
func FuzzValidate(f *testing.F) {
	for _, s := range headerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		valid := json.Valid(b)
		e := skipValue(b, skipWS(b, 0))
		ours := e >= 0 && skipWS(b, e) == len(b)
		if ours && !valid {
			t.Fatalf("%q: accepted, encoding/json says it is not JSON", b)
		}
		if !ours && valid && nesting(b) <= fastDepth {
			t.Fatalf("%q: refused, encoding/json says it is JSON", b)
		}

		h, ok := fastHeader(b)
		if !ok {
			return
		}
		if !valid {
			t.Fatalf("%q: header read from a line that is not JSON", b)
		}
		var want Head
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("%q: header read, encoding/json says %v", b, err)
		}
		if !eqPtr(h.V, want.V) || !eqPtr(h.Kind, want.Kind) {
			t.Fatalf("%q: v=%v kind=%v, encoding/json v=%v kind=%v", b, deref(h.V), deref(h.Kind), deref(want.V), deref(want.Kind))
		}
	})
}

// nesting is the deepest nesting of arrays and objects in valid JSON.
func nesting(b []byte) int {
	d := json.NewDecoder(bytes.NewReader(b))
	depth, deepest := 0, 0
	for {
		tok, err := d.Token()
		if err != nil {
			return deepest
		}
		switch tok {
		case json.Delim('['), json.Delim('{'):
			depth++
			deepest = max(deepest, depth)
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
	}
}

// TestValidateSeeds runs the fuzz checks on the seeds, and ReadHead
// against encoding/json at the nesting limits.
func TestValidateSeeds(t *testing.T) {
	for _, s := range headerSeeds {
		b := []byte(s)
		e := skipValue(b, skipWS(b, 0))
		ours := e >= 0 && skipWS(b, e) == len(b)
		if valid := json.Valid(b); ours != valid && (ours || nesting(b) <= fastDepth) {
			t.Errorf("%q: validator says %v, encoding/json %v", b, ours, valid)
		}
	}
	for _, n := range []int{fastDepth - 1, fastDepth, fastDepth + 1, maxDepth - 2, maxDepth - 1, maxDepth, maxDepth + 1} {
		line := []byte(`{"v":1,"kind":"x","a":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`)
		var want Head
		wantErr := json.Unmarshal(line, &want)
		got, gotErr := ReadHead(line)
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !eqPtr(got.V, want.V) || !eqPtr(got.Kind, want.Kind) {
			t.Errorf("%d levels: v=%v kind=%v err=%v, encoding/json v=%v kind=%v err=%v",
				n+1, deref(got.V), deref(got.Kind), gotErr, deref(want.V), deref(want.Kind), wantErr)
		}
	}
}

// TestFastHeaderReadsRecords: the lines the tools write take the fast path.
func TestFastHeaderReadsRecords(t *testing.T) {
	for _, line := range []string{benchCrashLine, benchMemoryLine, benchSampleLine, headerSeeds[12], headerSeeds[13]} {
		if _, ok := fastHeader([]byte(line)); !ok {
			t.Errorf("%.60q…: not read by the fast path", line)
		}
	}
}

// FuzzHeader checks the fast header reader against encoding/json: the same
// v, the same kind, the same error, for any line.
func FuzzHeader(f *testing.F) {
	for _, s := range []string{
		benchMemoryLine, benchSampleLine, `{}`, `null`, `[]`, `{"v":1}`, `{"V":1,"KIND":"x"}`, `{"v":1,"kind":"x","v":2}`,
		`{"v":1.0,"kind":"x"}`, `{"v":-0,"kind":"x"}`, `{"v":01}`, `{"kind":"\u0078","v":1}`, `{"\u212aind":"x","v":1}`,
		`{"v":1,"kind":"x","a":[1,2,{"b":"\ud800"}],"c":"\xff"}`, `{"v":1,"kind":null}`, `{"v":1,"kind":"x"} x`,
		`{"v":1,"kind":"x","s":"a` + "\t" + `b"}`, `{"v":99999999999999999999,"kind":"x"}`, ` {"v" : 1 , "kind" : "x" } `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var want Head
		wantErr := json.Unmarshal(line, &want)
		got, gotErr := ReadHead(line)
		if (wantErr == nil) != (gotErr == nil) || wantErr != nil && wantErr.Error() != gotErr.Error() {
			t.Fatalf("%q: error %v, encoding/json says %v", line, gotErr, wantErr)
		}
		if wantErr != nil {
			return
		}
		if !eqPtr(got.V, want.V) || !eqPtr(got.Kind, want.Kind) {
			t.Fatalf("%q: got v=%v kind=%v, encoding/json v=%v kind=%v", line, deref(got.V), deref(got.Kind), deref(want.V), deref(want.Kind))
		}
	})
}

func eqPtr[T comparable](a, b *T) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
