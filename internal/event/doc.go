// Package event defines the versioned records that the sre-* tools exchange
// as NDJSON (schema v1): sample, event, action, score, summary and notice.
// It is the only place the schema lives; schema/v1.json mirrors it for
// validators outside Go, and docs/schema.md explains every field.
package event
