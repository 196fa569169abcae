package logtail_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/localsre/sre-agent/internal/logtail"
)

func Example() {
	dir, _ := os.MkdirTemp("", "logtail")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.log")
	os.WriteFile(path, []byte("starting\nlistening on :8080\n"), 0o644)

	// sre-report --log app=PATH
	specs, err := logtail.ParseSpecs([]string{"app=" + path})
	if err != nil {
		fmt.Println(err)
		return
	}
	followers := logtail.NewFollowers(specs, 100)
	for _, f := range followers {
		f.Start(context.Background())
		defer f.Stop()
	}

	// Later, when app crashes: the last lines, even if the log was rotated.
	s := followers[0].Snapshot()
	for _, l := range s.Lines {
		fmt.Println(l)
	}
	fmt.Println(len(s.Events), "events")
	// Output:
	// starting
	// listening on :8080
	// 0 events
}

func ExampleParseSpecs() {
	specs, _ := logtail.ParseSpecs([]string{
		"/var/log/app.log",              // every target
		"api=/var/log/api.log",          // target api
		"/run/api.pid=/var/log/api.log", // a --pidfile target
		"/var/log/a=b.log",              // a file with '=' in its name
	})
	for _, s := range specs {
		fmt.Printf("%q %q\n", s.Target, s.Path)
	}
	// Output:
	// "" "/var/log/app.log"
	// "api" "/var/log/api.log"
	// "/run/api.pid" "/var/log/api.log"
	// "" "/var/log/a=b.log"
}
