// Package eventtest validates records against the JSON Schema of schema v1.
// Tests use it so that a tool emitting a field the schema does not know
// fails its tests.
package eventtest

import (
	"bufio"
	"bytes"
	"fmt"
	"sync"

	"github.com/localsre/sre-agent/internal/event"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

var (
	once    sync.Once
	schema  *jsonschema.Schema
	loadErr error
)

// Schema compiles the embedded schema once.
func Schema() (*jsonschema.Schema, error) {
	once.Do(func() {
		f, err := event.SchemaFS.Open(event.SchemaPath)
		if err != nil {
			loadErr = err
			return
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			loadErr = fmt.Errorf("schema: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource("v1.json", doc); err != nil {
			loadErr = err
			return
		}
		schema, loadErr = c.Compile("v1.json")
	})
	return schema, loadErr
}

// ValidateLine checks one NDJSON line against the schema.
func ValidateLine(line []byte) error {
	s, err := Schema()
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return s.Validate(inst)
}

// ValidateStream checks every non-empty line of data and returns how many
// records it checked; the first invalid one fails with its line number.
func ValidateStream(data []byte) (int, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	n, line := 0, 0
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := ValidateLine(sc.Bytes()); err != nil {
			return n, fmt.Errorf("line %d: %v\n%s", line, err, sc.Bytes())
		}
		n++
	}
	return n, sc.Err()
}
