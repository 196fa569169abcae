package event_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/event"
)

// encodingJSON is the line ndjson.Writer wrote before Sample.AppendJSON: what
// every reader of sre-sample's output has seen so far.
func encodingJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// checkAppend fails t unless s.AppendJSON writes what encoding/json writes,
// or fails where encoding/json fails.
func checkAppend(t *testing.T, s *event.Sample) {
	t.Helper()
	if msg := compareAppend(s); msg != "" {
		t.Fatal(msg)
	}
}

// compareAppend says how s.AppendJSON differs from encoding/json, or "". It
// appends after a prefix, which must be kept, and after an error it wants
// the prefix back unchanged.
func compareAppend(s *event.Sample) string {
	want, wantErr := encodingJSON(s)
	const prefix = "prefix:"
	got, err := s.AppendJSON([]byte(prefix))
	switch {
	case wantErr != nil && err == nil:
		return fmt.Sprintf("AppendJSON = %s, want an error like encoding/json's %v", got, wantErr)
	case wantErr != nil:
		var uve *json.UnsupportedValueError
		if errors.As(wantErr, &uve) && !errors.As(err, &uve) {
			return fmt.Sprintf("AppendJSON error %v does not wrap *json.UnsupportedValueError", err)
		}
		if string(got) != prefix {
			return fmt.Sprintf("AppendJSON after an error returned %q, want the prefix %q alone", got, prefix)
		}
		return ""
	case err != nil:
		return fmt.Sprintf("AppendJSON: %v; encoding/json wrote %s", err, want)
	case !bytes.HasPrefix(got, []byte(prefix)):
		return fmt.Sprintf("AppendJSON lost the prefix: %q", got)
	}
	if diff := cmp.Diff(string(want), string(got[len(prefix):])); diff != "" {
		return fmt.Sprintf("AppendJSON differs from encoding/json (-json +append):\n%s", diff)
	}
	return ""
}

// awkward holds strings that encoding/json escapes or rewrites.
var awkward = func() []string {
	var ctl strings.Builder
	for c := range 0x20 {
		ctl.WriteByte(byte(c))
	}
	return []string{
		"",
		`say "hi"`,
		`C:\path\to`,
		ctl.String(),
		"del \x7f",
		"rss > limit && cpu < 5",
		"line\u2028para\u2029end",
		"bad \xff byte",
		"cut \xe2\x80",           // truncated three-byte sequence
		"surrogate \xed\xa0\x80", // UTF-8 of U+D800, invalid
		"overlong \xc0\x80",
		"replacement \ufffd itself",
		"emoji 😀 and é",
		"\xff",
		"\u2028",
		"<script>",
	}
}()

func TestSampleAppendJSON(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	full := func() *event.Sample {
		return &event.Sample{
			Header:  event.NewHeader(event.KindSample, "sre-sample", "web1", ts),
			Target:  "nginx",
			Seq:     7,
			Up:      true,
			Matches: 1,
			Process: &event.Process{
				PID: 4242, PPID: 1, Start: event.At(ts.Add(-time.Hour)), StartTicks: 987654,
				Name: "nginx", Exe: "/usr/sbin/nginx", Args: []string{"nginx", "-g", "daemon off;"},
				User: "www-data", UID: ptr(33), State: "S", CPUPct: ptr(12.5), CPUTimeS: 3.25,
				RSSBytes: 52428800, VMSBytes: 209715200, Threads: 4, FDs: ptr(37), FDsLimit: ptr(uint64(1024)),
				Cgroup: "/system.slice/nginx.service", ContainerID: "abc123", Runtime: "docker", PodUID: "pod-1",
				CgroupMemMaxBytes: ptr(uint64(1 << 30)), CgroupOOM: ptr(uint64(2)), CgroupOOMKills: ptr(uint64(1)),
			},
			System: &event.System{
				MemTotalBytes: ptr(uint64(8 << 30)), MemAvailableBytes: ptr(uint64(4 << 30)),
				SwapTotalBytes: ptr(uint64(0)), SwapUsedBytes: ptr(uint64(0)),
				Load1: ptr(0.5), Load5: ptr(0.25), Load15: ptr(0.0),
				Disk: []event.Disk{
					{Path: "/", TotalBytes: 100, UsedBytes: 40, FreeBytes: 60, UsedPct: 40},
					{Path: "/var", TotalBytes: 3, UsedBytes: 1, FreeBytes: 2, UsedPct: 100.0 / 3},
				},
				PSIMemSomeAvg10: ptr(0.01), PSIMemFullAvg10: ptr(0.0), OOMKills: ptr(uint64(3)),
			},
			Exit: &event.Exit{PID: 4242, Noticed: event.NoticedWait, Code: ptr(0), Signal: "SIGKILL", SignalNum: 9, CoreDump: true, UptimeS: 3600,
				OOMKilled: ptr(false), OOMKernelMsg: "oom-kill:constraint=CONSTRAINT_MEMCG,task=a \"b\",pid=4242"},
			Unavailable: map[string]string{
				"process.cpu_pct": "first sample",
				"process.fds":     "permission denied",
				"system.load1":    "no /proc/loadavg",
			},
		}
	}
	type tcase struct {
		name string
		s    *event.Sample
	}
	tests := []tcase{
		{"nil sample", nil},
		{"zero sample", &event.Sample{}},
		{"every field set", full()},
		{"every optional pointer nil", &event.Sample{
			Header:  event.NewHeader(event.KindSample, "sre-sample", "h", ts),
			Process: &event.Process{PID: 1},
			System:  &event.System{},
			Exit:    &event.Exit{PID: 1},
		}},
		{"optional pointers to zero are written", &event.Sample{
			Process: &event.Process{UID: ptr(0), CPUPct: ptr(0.0), FDs: ptr(0), FDsLimit: ptr(uint64(0)),
				CgroupMemMaxBytes: ptr(uint64(0)), CgroupOOM: ptr(uint64(0)), CgroupOOMKills: ptr(uint64(0))},
			System: &event.System{MemTotalBytes: ptr(uint64(0)), Load1: ptr(0.0), OOMKills: ptr(uint64(0))},
			Exit:   &event.Exit{Code: ptr(0)},
		}},
		{"empty slices and map are left out", &event.Sample{
			Process:     &event.Process{Args: []string{}},
			System:      &event.System{Disk: []event.Disk{}},
			Unavailable: map[string]string{},
		}},
		{"args with empty strings", &event.Sample{Process: &event.Process{Args: []string{"", ""}}}},
		{"system with only its last field", &event.Sample{System: &event.System{OOMKills: ptr(uint64(1))}}},
		{"system with only disk", &event.Sample{System: &event.System{Disk: []event.Disk{{}}}}},
		{"system with only its first field", &event.Sample{System: &event.System{MemTotalBytes: ptr(uint64(1))}}},
		{"exit with negative signal number", &event.Sample{Exit: &event.Exit{SignalNum: -1, Code: ptr(-1)}}},
		{"integer extremes", &event.Sample{
			Header:  event.Header{V: math.MinInt},
			Seq:     math.MaxUint64,
			Matches: math.MaxInt,
			Process: &event.Process{PID: math.MinInt, PPID: -1, StartTicks: math.MaxUint64, RSSBytes: math.MaxUint64,
				UID: ptr(math.MinInt), FDs: ptr(math.MaxInt), FDsLimit: ptr(uint64(math.MaxUint64)), Threads: -7},
			System: &event.System{Disk: []event.Disk{{TotalBytes: math.MaxUint64, UsedBytes: 1 << 63}}},
			Exit:   &event.Exit{PID: -42, SignalNum: math.MinInt},
		}},
		{"map keys sort as raw bytes before escaping", &event.Sample{Unavailable: map[string]string{
			"b": "1", "a": "2", "A": "3", "": "4", "\xff": "5", "\xfe": "6", "é": "7", "a\x00": "8", "\u2028": "9", `"`: "10",
		}}},
		{"more keys than fit on the stack", &event.Sample{Unavailable: func() map[string]string {
			m := map[string]string{}
			for i := range 100 {
				m[strings.Repeat("k", i%7)+string(rune('a'+i%26))+string(rune('0'+i/26))] = "v"
			}
			return m
		}()}},
	}
	for _, s := range awkward {
		tests = append(tests, tcase{fmt.Sprintf("string %q", s), &event.Sample{
			Header:  event.Header{Kind: s, Host: s, Src: s},
			Target:  s,
			Process: &event.Process{Name: s, Exe: s, Args: []string{s, s}, User: s, State: s, Cgroup: s, ContainerID: s, Runtime: s, PodUID: s},
			System:  &event.System{Disk: []event.Disk{{Path: s}}},
			Exit:    &event.Exit{Noticed: s, Signal: s},
			Unavailable: map[string]string{
				s:       s,
				"x" + s: s + "y",
			},
		}})
	}
	// Each byte alone, so every escape is checked on its own.
	for c := range 0x80 {
		s := string(rune(c))
		tests = append(tests, tcase{fmt.Sprintf("byte %#02x", c), &event.Sample{Target: s, Unavailable: map[string]string{s: s}}})
	}
	for c := 0x80; c < 0x100; c++ {
		s := string([]byte{byte(c)})
		tests = append(tests, tcase{fmt.Sprintf("byte %#02x", c), &event.Sample{Target: s}})
	}
	floats := []float64{
		0, math.Copysign(0, -1), 1e-7, -1e-7, 1e-6, -1e-6, 9.999999e-7, 0.1, 0.3, 1, -1, 100, 1.5,
		123456789.125, 1e20, 1e21, -1e21, 999999999999999999999.0, 1e-10, 1.5e-100, 1e100, 1e300,
		math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64,
		2.2250738585072014e-308, math.Pi, 1 << 53, 1<<53 + 2, float64(math.MaxInt64), float64(math.MaxUint64),
	}
	for _, f := range floats {
		tests = append(tests, tcase{"float " + strings.TrimSpace(string(mustEncode(t, f))), floatSample(f)})
	}
	times := []event.Time{
		{},
		event.At(ts),
		event.At(ts.Add(1)),
		event.At(ts.Add(123456789)),
		{Time: time.Date(2026, 1, 1, 0, 30, 0, 500, time.FixedZone("CEST", 2*60*60))},
		{Time: time.Date(2026, 1, 1, 0, 30, 0, 0, time.FixedZone("NST", -(3*60+30)*60))},
		{Time: time.Now()}, // local zone and a monotonic reading
		{Time: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Time: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Time: time.Date(10000, 1, 1, 1, 0, 0, 0, time.FixedZone("CEST", 2*60*60))}, // 9999 in UTC
		{Time: time.Date(12345, 6, 7, 8, 9, 10, 11, time.UTC)},
		{Time: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Time: time.Unix(0, 0)},
	}
	for _, tm := range times {
		tests = append(tests, tcase{"time " + tm.Time.String(), &event.Sample{
			Header:  event.Header{TS: tm},
			Process: &event.Process{Start: tm},
		}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkAppend(t, tt.s) })
	}
}

// floatSample puts f in every float of a Sample.
func floatSample(f float64) *event.Sample {
	return &event.Sample{
		Process: &event.Process{CPUPct: ptr(f), CPUTimeS: f},
		System: &event.System{
			Load1: ptr(f), Load5: ptr(f), Load15: ptr(f),
			Disk:            []event.Disk{{UsedPct: f}},
			PSIMemSomeAvg10: ptr(f), PSIMemFullAvg10: ptr(f),
		},
		Exit: &event.Exit{UptimeS: f},
	}
}

func mustEncode(t *testing.T, v any) []byte {
	t.Helper()
	b, err := encodingJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSampleAppendJSONBadFloat(t *testing.T) {
	// encoding/json refuses NaN and infinities; so must AppendJSON, and say
	// which field had it, wherever it is.
	fields := []struct {
		path string
		set  func(s *event.Sample, f float64)
	}{
		{"process.cpu_pct", func(s *event.Sample, f float64) { s.Process.CPUPct = &f }},
		{"process.cpu_time_s", func(s *event.Sample, f float64) { s.Process.CPUTimeS = f }},
		{"system.load1", func(s *event.Sample, f float64) { s.System.Load1 = &f }},
		{"system.load5", func(s *event.Sample, f float64) { s.System.Load5 = &f }},
		{"system.load15", func(s *event.Sample, f float64) { s.System.Load15 = &f }},
		{"system.disk[1].used_pct", func(s *event.Sample, f float64) { s.System.Disk[1].UsedPct = f }},
		{"system.psi_mem_some_avg10", func(s *event.Sample, f float64) { s.System.PSIMemSomeAvg10 = &f }},
		{"system.psi_mem_full_avg10", func(s *event.Sample, f float64) { s.System.PSIMemFullAvg10 = &f }},
		{"exit.uptime_s", func(s *event.Sample, f float64) { s.Exit.UptimeS = f }},
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		for _, fl := range fields {
			t.Run(fl.path+"="+strings.TrimSpace(fmtFloat(bad)), func(t *testing.T) {
				s := &event.Sample{
					Process: &event.Process{},
					System:  &event.System{Disk: make([]event.Disk, 2)},
					Exit:    &event.Exit{},
				}
				fl.set(s, bad)
				checkAppend(t, s)
				_, err := s.AppendJSON(nil)
				if err == nil || !strings.Contains(err.Error(), fl.path+": ") {
					t.Errorf("AppendJSON error %v does not name %s", err, fl.path)
				}
			})
		}
	}
}

func fmtFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	}
	return "-Inf"
}

// filler sets every exported field of a value at random, by reflection, so
// that TestSampleAppendJSONRandom covers fields nobody listed. A field of a
// kind it does not know fails the test: teach the filler, and AppendJSON.
type filler struct {
	t *testing.T
	r *rand.Rand
}

var (
	timeType      = reflect.TypeFor[event.Time]()
	marshalerType = reflect.TypeFor[json.Marshaler]()
	zones         = []*time.Location{time.UTC, time.Local, time.FixedZone("CEST", 2*60*60), time.FixedZone("NST", -(3*60+30)*60)}
)

func (f *filler) fill(v reflect.Value, path string) {
	r := f.r
	typ := v.Type()
	if typ == timeType {
		v.Set(reflect.ValueOf(f.time()))
		return
	}
	if typ.Kind() == reflect.Pointer && typ.Elem() == timeType {
		if r.IntN(4) == 0 {
			v.SetZero()
			return
		}
		t := f.time()
		v.Set(reflect.ValueOf(&t))
		return
	}
	if typ.Implements(marshalerType) || reflect.PointerTo(typ).Implements(marshalerType) {
		f.t.Fatalf("%s: %s has its own MarshalJSON; AppendJSON and this filler must learn it", path, typ)
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range typ.NumField() {
			sf := typ.Field(i)
			if !sf.IsExported() {
				f.t.Fatalf("%s.%s: unexported field; decide how AppendJSON treats it", path, sf.Name)
			}
			f.fill(v.Field(i), path+"."+sf.Name)
		}
	case reflect.Pointer:
		if r.IntN(4) == 0 {
			v.SetZero()
			return
		}
		p := reflect.New(typ.Elem())
		f.fill(p.Elem(), path)
		v.Set(p)
	case reflect.Slice:
		switch r.IntN(4) {
		case 0:
			v.SetZero()
		case 1:
			v.Set(reflect.MakeSlice(typ, 0, r.IntN(2)))
		default:
			n := 1 + r.IntN(4)
			s := reflect.MakeSlice(typ, n, n)
			for i := range n {
				f.fill(s.Index(i), path+"[]")
			}
			v.Set(s)
		}
	case reflect.Map:
		switch r.IntN(4) {
		case 0:
			v.SetZero()
		case 1:
			v.Set(reflect.MakeMap(typ))
		default:
			m := reflect.MakeMap(typ)
			for range 1 + r.IntN(20) {
				k := reflect.New(typ.Key()).Elem()
				f.fill(k, path+"{key}")
				e := reflect.New(typ.Elem()).Elem()
				f.fill(e, path+"{}")
				m.SetMapIndex(k, e)
			}
			v.Set(m)
		}
	case reflect.String:
		v.SetString(f.string())
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		shift := 64 - typ.Bits()
		var n int64
		switch r.IntN(6) {
		case 0: // zero, for omitempty
		case 1:
			n = math.MinInt64
		case 2:
			n = math.MaxInt64
		case 3:
			n = r.Int64N(2000) - 1000
			shift = 0
		default:
			n = int64(r.Uint64())
		}
		v.SetInt(n >> shift)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		shift := 64 - typ.Bits()
		var n uint64
		switch r.IntN(5) {
		case 0:
		case 1:
			n = math.MaxUint64
		case 2:
			n = r.Uint64N(1000)
			shift = 0
		default:
			n = r.Uint64()
		}
		v.SetUint(n >> shift)
	case reflect.Float64:
		v.SetFloat(f.float())
	default:
		// float32 among them: encoding/json formats it with other cutoffs.
		f.t.Fatalf("%s: %s (kind %s) is new to the filler; teach it and AppendJSON", path, typ, v.Kind())
	}
}

var stringPieces = append([]string{
	"a", "nginx", "/", " ", "0", "Z", "\x00", "\x1f", "\b", "\f", "\n", "\r", "\t", "\v", "\x7f",
	"\x80", "\xc3", "\xc3\xa9", "\xf0\x9f", "\xf0\x9f\x98\x80", "\u2027", "\u202a", "\U0010ffff", "\xf4\x90\x80\x80",
}, awkward...)

func (f *filler) string() string {
	var b strings.Builder
	for range f.r.IntN(6) {
		b.WriteString(stringPieces[f.r.IntN(len(stringPieces))])
	}
	return b.String()
}

func (f *filler) float() float64 {
	r := f.r
	switch r.IntN(12) {
	case 0:
		return 0
	case 1:
		return math.Copysign(0, -1)
	case 2:
		// Rarely NaN or ±Inf: both encoders must fail.
		if r.IntN(20) == 0 {
			return []float64{math.NaN(), math.Inf(1), math.Inf(-1)}[r.IntN(3)]
		}
		return math.SmallestNonzeroFloat64
	case 3: // around the cutoffs between plain and exponent form
		return []float64{1e-6, 1e21, 1e-7, 1e20, 999999999999999999999.0, 9.999999e-7}[r.IntN(6)] * (1 - 2*float64(r.IntN(2)))
	case 4:
		return float64(r.Int64N(1e6)) / 100
	case 5:
		return r.Float64() * 100
	case 6:
		return r.NormFloat64() * math.Pow(10, float64(r.IntN(600)-300))
	default:
		for {
			x := math.Float64frombits(r.Uint64())
			if !math.IsNaN(x) && !math.IsInf(x, 0) {
				return x
			}
		}
	}
}

func (f *filler) time() event.Time {
	r := f.r
	loc := zones[r.IntN(len(zones))]
	switch r.IntN(6) {
	case 0:
		return event.Time{}
	case 1: // whole seconds
		return event.Time{Time: time.Unix(r.Int64N(4e9), 0).In(loc)}
	case 2: // years before 0 and after 9999
		return event.Time{Time: time.Date(r.IntN(40000)-20000, time.Month(1+r.IntN(12)), 1+r.IntN(28),
			r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1e9), loc)}
	case 3:
		return event.Time{Time: time.Now().In(loc)}
	default:
		return event.Time{Time: time.Unix(r.Int64N(4e9), r.Int64N(1e9)).In(loc)}
	}
}

// TestSampleAppendJSONRandom fills every field of Sample and of the structs
// inside it at random and wants the bytes encoding/json writes. It is what
// fails when a field is added to any of them and AppendJSON is not taught
// to write it.
func TestSampleAppendJSONRandom(t *testing.T) {
	f := &filler{t: t, r: rand.New(rand.NewPCG(2026, 1))}
	n := 5000
	if testing.Short() {
		n = 500
	}
	errs := 0
	for i := range n {
		var s event.Sample
		f.fill(reflect.ValueOf(&s).Elem(), "Sample")
		if _, err := encodingJSON(&s); err != nil {
			errs++
		}
		if msg := compareAppend(&s); msg != "" {
			t.Fatalf("iteration %d: %s\nsample: %#v", i, msg, s)
		}
	}
	if errs == 0 || errs > n/2 {
		t.Errorf("%d of %d samples had NaN or Inf; the filler should make a few", errs, n)
	}
}

// TestSampleAppendJSONFieldsCovered checks the filler's reach: every JSON
// key encoding/json can write for a Sample shows up in some random sample.
func TestSampleAppendJSONFieldsCovered(t *testing.T) {
	f := &filler{t: t, r: rand.New(rand.NewPCG(7, 7))}
	seen := map[string]bool{}
	for range 300 {
		var s event.Sample
		f.fill(reflect.ValueOf(&s).Elem(), "Sample")
		b, err := encodingJSON(&s)
		if err != nil {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		collectKeys(m, "", seen)
	}
	for _, key := range jsonKeys(reflect.TypeFor[event.Sample](), "") {
		if !seen[key] {
			t.Errorf("no random sample had %s", key)
		}
	}
}

func collectKeys(v any, prefix string, seen map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		if prefix == "unavailable." {
			return
		}
		for k, e := range v {
			seen[prefix+k] = true
			collectKeys(e, prefix+k+".", seen)
		}
	case []any:
		for _, e := range v {
			collectKeys(e, prefix, seen)
		}
	}
}

// jsonKeys lists the dotted keys of typ's JSON form, embedded structs inlined.
func jsonKeys(typ reflect.Type, prefix string) []string {
	var keys []string
	for i := range typ.NumField() {
		sf := typ.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		ft := sf.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if sf.Anonymous && name == "" {
			keys = append(keys, jsonKeys(ft, prefix)...)
			continue
		}
		if name == "" {
			name = sf.Name
		}
		keys = append(keys, prefix+name)
		if ft.Kind() == reflect.Struct && ft != timeType {
			keys = append(keys, jsonKeys(ft, prefix+name+".")...)
		}
	}
	return keys
}

func TestSampleAppendJSONAllocs(t *testing.T) {
	s := benchSample()
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = s.AppendJSON(buf[:0]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendJSON of a typical sample: %v allocations, want 0", allocs)
	}
}

func FuzzSampleAppendJSON(f *testing.F) {
	f.Add("nginx", "web1", "a\"b\\c\n", "process.fds", "permission denied", int64(4242), uint64(7), 12.5, 0.1, int64(1767323045000000007), true)
	f.Add("", "", "", "", "", int64(0), uint64(0), 0.0, math.Copysign(0, -1), int64(0), false)
	f.Add("\xff\xfe", "\u2028\u2029", "<&>", "\x00", "\x7f", int64(math.MinInt64), uint64(math.MaxUint64), 1e21, 1e-7, int64(math.MaxInt64), true)
	f.Add("😀", "é", "\xed\xa0\x80", "\xc0\x80", "\ufffd", int64(-1), uint64(1<<63), math.MaxFloat64, math.SmallestNonzeroFloat64, int64(-62135596800000000), false)
	f.Add("x", "y", "z", "k", "v", int64(1), uint64(1), math.NaN(), math.Inf(1), int64(1), true)
	f.Fuzz(func(t *testing.T, target, host, arg, key, val string, i int64, u uint64, f1, f2 float64, nanos int64, up bool) {
		ts := event.Time{Time: time.Unix(0, nanos).In(zones[u%uint64(len(zones))])}
		n := int(i)
		s := &event.Sample{
			Header:  event.Header{V: n, Kind: arg, TS: ts, Host: host, Src: val},
			Target:  target,
			Seq:     u,
			Up:      up,
			Matches: -n,
			Process: &event.Process{
				PID: n, Start: ts, StartTicks: u, Name: target, Exe: arg, Args: []string{arg, key, val},
				User: host, UID: &n, State: key, CPUPct: &f1, CPUTimeS: f2, RSSBytes: u, Cgroup: val,
				ContainerID: key, Runtime: arg, PodUID: host, FDsLimit: &u,
			},
			System: &event.System{
				Load1: &f2, SwapUsedBytes: &u,
				Disk: []event.Disk{{Path: val, UsedPct: f1}, {Path: key, UsedPct: f2, TotalBytes: u}},
			},
			Exit:        &event.Exit{PID: n, Noticed: key, Code: &n, Signal: val, SignalNum: n, CoreDump: up, UptimeS: f1, OOMKilled: &up, OOMKernelMsg: arg},
			Unavailable: map[string]string{key: val, val: key, arg: target, target + key: host},
		}
		if up {
			s.Exit = nil
		} else {
			s.System = nil
		}
		checkAppend(t, s)
	})
}

// benchSample is a typical tick: a process with most fields read, the
// host, two disks and two fields that could not be read.
func benchSample() *event.Sample {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	return &event.Sample{
		Header:  event.NewHeader(event.KindSample, "sre-sample", "web1.example.com", ts),
		Target:  "nginx",
		Seq:     123456,
		Up:      true,
		Matches: 1,
		Process: &event.Process{
			PID: 4242, PPID: 1, Start: event.At(ts.Add(-36 * time.Hour)), StartTicks: 987654321,
			Name: "nginx", Exe: "/usr/sbin/nginx", Args: []string{"nginx: master process", "-g", "daemon off;"},
			User: "root", UID: ptr(0), State: "S", CPUPct: ptr(3.1415), CPUTimeS: 1234.56,
			RSSBytes: 52428800, VMSBytes: 209715200, Threads: 4, FDs: ptr(37), FDsLimit: ptr(uint64(1024)),
			Cgroup: "/system.slice/nginx.service",
		},
		System: &event.System{
			MemTotalBytes: ptr(uint64(16 << 30)), MemAvailableBytes: ptr(uint64(9876543210)),
			SwapTotalBytes: ptr(uint64(2 << 30)), SwapUsedBytes: ptr(uint64(12345678)),
			Load1: ptr(0.42), Load5: ptr(0.37), Load15: ptr(0.3),
			Disk: []event.Disk{
				{Path: "/", TotalBytes: 500107862016, UsedBytes: 200043144806, FreeBytes: 300064717210, UsedPct: 40.00000000001},
				{Path: "/var/lib/docker", TotalBytes: 1000204886016, UsedBytes: 900184397414, FreeBytes: 100020488602, UsedPct: 90.0},
			},
			PSIMemSomeAvg10: ptr(0.12), PSIMemFullAvg10: ptr(0.0), OOMKills: ptr(uint64(0)),
		},
		Unavailable: map[string]string{
			"process.cgroup_mem_max_bytes": "memory.max: max",
			"process.container_id":         "not in a container",
		},
	}
}

func BenchmarkSampleEncode(b *testing.B) {
	s := benchSample()
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := encodingJSON(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = s.AppendJSON(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
