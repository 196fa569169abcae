package heal

import (
	"errors"
	"os"
	"regexp"
	"testing"
)

var posPrefix = regexp.MustCompile(`^f\.yaml:\d+:\d+: `)

// FuzzParse: any input parses or fails with a positioned rules error, and
// a parsed file honours the validation rules.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("../../testdata/heal/rules.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(okRule))
	f.Add([]byte(seedRule))
	f.Add([]byte("- {on: crash, action: run, command: [/bin/true], max_retries: 1}\n"))
	f.Add([]byte(okRule + "    backoff: {initial: 5s, max: 1s}\n"))
	f.Add([]byte(ctrRule("    container: [web, \"-x\", 12]\n    container_label: a=b\n    capture: best_effort\n")))
	f.Add([]byte("rules:\n  - name: a\n    on: [crash]\n    action: run\n    command: [x]\n"))
	f.Add([]byte("rules: {a: 1}\n"))
	f.Add([]byte("&a [*a]"))
	f.Add([]byte("rules:\n  - !!binary AAAA\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := Parse("f.yaml", data)
		if err != nil {
			if !errors.Is(err, ErrRules) || !posPrefix.MatchString(err.Error()) {
				t.Fatalf("error without position: %q", err)
			}
			return
		}
		for _, r := range rs.Rules {
			if r.Name == "" || registry[r.Action].act == nil {
				t.Fatalf("invalid rule accepted: %+v", r)
			}
			if r.Backoff.Max < r.Backoff.Initial {
				t.Fatalf("max < initial accepted")
			}
			if len(r.On) > 0 && r.MaxRetries == 0 && r.Cooldown == 0 {
				t.Fatalf("storm rule accepted")
			}
			if r.Escalate != "" && rs.Get(r.Escalate) == nil {
				t.Fatalf("dangling escalate accepted")
			}
		}
	})
}
