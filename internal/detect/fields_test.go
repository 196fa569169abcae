package detect

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/localsre/sre-agent/internal/event"
)

// setAll sets every exported field of v (a struct) to a non-zero value, by
// reflection, so that a field added to event.Process or event.System is
// covered here without anyone listing it.
func setAll(t *testing.T, v reflect.Value) {
	t.Helper()
	for i := range v.NumField() {
		f := v.Field(i)
		if !v.Type().Field(i).IsExported() {
			continue
		}
		switch f.Kind() {
		case reflect.String:
			f.SetString("x-" + v.Type().Field(i).Name)
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(7 + i))
		case reflect.Uint64:
			f.SetUint(uint64(1000 + i))
		case reflect.Float64:
			f.SetFloat(float64(i) + 0.5)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Pointer:
			f.Set(reflect.New(f.Type().Elem()))
			if f.Elem().Kind() == reflect.Struct {
				setAll(t, f.Elem())
			} else {
				setOne(t, f.Elem(), i)
			}
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
			if e := f.Index(0); e.Kind() == reflect.Struct {
				setAll(t, e)
			} else {
				setOne(t, e, i)
			}
		case reflect.Struct:
			if f.Type() == reflect.TypeFor[event.Time]() {
				f.Set(reflect.ValueOf(event.At(time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC))))
				continue
			}
			setAll(t, f)
		default:
			t.Fatalf("%s.%s: a %s; teach setAll", v.Type(), v.Type().Field(i).Name, f.Kind())
		}
	}
}

func setOne(t *testing.T, v reflect.Value, i int) {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		v.SetString("s")
	case reflect.Int:
		v.SetInt(int64(3 + i))
	case reflect.Uint64:
		v.SetUint(uint64(30 + i))
	case reflect.Float64:
		v.SetFloat(float64(i) + 0.25)
	case reflect.Bool:
		v.SetBool(true)
	default:
		t.Fatalf("a %s; teach setOne", v.Kind())
	}
}

// TestEventsCarryEveryField: the crash event made from samples carries the
// process and host exactly as the last live sample had them, every field
// of event.Process and event.System included. A field added to the wire
// format in internal/event reaches the event (and, through sre-report and
// sre-heal, which pass records on byte for byte, the archive) with no
// change in sre-detect.
func TestEventsCarryEveryField(t *testing.T) {
	e, got := eventsOf(t)
	var p event.Process
	setAll(t, reflect.ValueOf(&p).Elem())
	p.PID, p.State, p.RSSBytes, p.VMSBytes, p.Threads = 42, "S", 100<<20, 400<<20, 5
	var sys event.System
	setAll(t, reflect.ValueOf(&sys).Elem())
	ts := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)
	up := &event.Sample{Header: event.NewHeader(event.KindSample, "sre-sample", "h", ts), Target: "api", Seq: 1, Up: true, Matches: 1, Process: &p, System: &sys}
	down := &event.Sample{Header: event.NewHeader(event.KindSample, "sre-sample", "h", ts.Add(time.Second)), Target: "api", Seq: 2, Matches: 0,
		Process: &p, System: &sys, Exit: &event.Exit{PID: 42, Noticed: event.NoticedPidfd, Signal: "SIGKILL", SignalNum: 9, UptimeS: 1}}
	for _, s := range []*event.Sample{up, down} {
		line, err := s.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Sample(line); err != nil {
			t.Fatal(err)
		}
	}
	var crash *event.Event
	for _, ev := range *got {
		if ev.Type == "crash" {
			crash = ev
		}
	}
	if crash == nil {
		t.Fatalf("no crash among %d events", len(*got))
	}
	for what, pair := range map[string][2]any{"process": {&p, crash.Process}, "system": {&sys, crash.System}} {
		want, _ := json.Marshal(pair[0])
		got, _ := json.Marshal(pair[1])
		var w, g map[string]any
		_ = json.Unmarshal(want, &w)
		_ = json.Unmarshal(got, &g)
		if d := cmp.Diff(w, g); d != "" {
			t.Errorf("crash %s differs from the sample's (-sample +event):\n%s", what, d)
		}
	}
}
