package ndjson_test

import (
	"errors"
	"io"
	"os"
	"strings"

	"github.com/localsre/sre-agent/internal/ndjson"
)

// A stage reads records, skips what it cannot use with a warning naming the
// line, and passes the rest on whole.
func Example() {
	in := strings.NewReader(`{"v":1,"kind":"sample","target":"api"}
not json
{"v":2,"kind":"sample"}
{"v":1,"kind":"event","type":"crash"}
`)
	warn := ndjson.NewWarner("sre-example", "stdin", os.Stdout)
	r := ndjson.NewReader(in, ndjson.OnSkip(warn.Skip))
	out := ndjson.NewWriter(os.Stdout)
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		_ = out.WriteLine(rec.Raw)
	}
	warn.Summary(r.Counts())
	// Output:
	// {"v":1,"kind":"sample","target":"api"}
	// sre-example: stdin: line 2 skipped (bad_json): invalid character 'o' in literal null (expecting 'u')
	// sre-example: stdin: line 3 skipped (newer_v): v 2 is newer than 1
	// {"v":1,"kind":"event","type":"crash"}
	// sre-example: stdin: 2 lines skipped (bad_json=1 newer_v=1) of 4
}
