package ecs

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/localsre/sre-agent/internal/ecs/ecstest"
)

// FuzzConvert: any line either converts into a document whose every field
// outside sre has its ECS type, or is refused with ErrRecord; never a panic.
func FuzzConvert(f *testing.F) {
	if data, err := os.ReadFile("testdata/records.ndjson"); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			f.Add([]byte(l))
		}
	}
	f.Add([]byte(`{"v":1,"kind":"sample","ts":"2026-11-27T03:41:10Z","host":"h","src":"s","target":"t","process":{"pid":1,"uid":0,"args":[],"user":"u"},"exit":{"code":1e3}}`))
	f.Add([]byte(`{"v":1,"kind":"event","ts":"2026-11-27T03:41:10Z","severity":"loud","type":null,"process":{}}`))
	f.Add([]byte(`{"ts":"2026-11-27T03:41:10Z","process":{"pid":99999999999999999999}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, line []byte) {
		doc, err := Convert(line)
		if err != nil {
			if !errors.Is(err, ErrRecord) {
				t.Fatalf("error %v does not wrap ErrRecord", err)
			}
			return
		}
		m := roundTrip(t, doc)
		for k, v := range m {
			if k == "sre" {
				continue
			}
			ecstest.Leaves(k, v, func(path string, v any) {
				f, ok := ecstest.Fields[path]
				if !ok {
					t.Fatalf("%s: not an ECS field; doc %v", path, m)
				}
				if err := ecstest.CheckType(f, v); err != nil {
					t.Fatalf("%s: %v; line %s", path, err, line)
				}
			})
		}
		if _, err := json.Marshal(doc); err != nil {
			t.Fatal(err)
		}
	})
}
