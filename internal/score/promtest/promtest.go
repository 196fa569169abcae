// Package promtest asks a real Prometheus server's query API, for the tests
// that follow sre-score's exporter to the end: scraped, stored, queried.
package promtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Series is one instant-vector result: its labels and its value as
// Prometheus writes it (a string: "10", "0.5", "NaN").
type Series struct {
	Metric map[string]string
	Value  string
}

// Query asks the server at addr (host:port) for the instant query q every
// 250ms until it answers with at least one series, and returns them. A
// server's first samples reach its query API seconds after it starts, so
// timeout is a ceiling for that; past it, the error names the last answer.
func Query(addr, q string, timeout time.Duration) ([]Series, error) {
	u := "http://" + addr + "/api/v1/query?query=" + url.QueryEscape(q)
	last := "no answer"
	for deadline := time.Now().Add(timeout); ; time.Sleep(250 * time.Millisecond) {
		series, err := ask(u)
		switch {
		case err != nil:
			last = err.Error()
		case len(series) == 0:
			last = "no series"
		default:
			return series, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s: no series after %v; last answer: %s", q, timeout, last)
		}
	}
}

func ask(u string) ([]Series, error) {
	resp, err := http.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string
		Error  string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  []any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("status %s: %w", resp.Status, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("status %s: %s", body.Status, body.Error)
	}
	out := make([]Series, 0, len(body.Data.Result))
	for _, r := range body.Data.Result {
		if len(r.Value) != 2 {
			return nil, fmt.Errorf("a series without [time, value]: %v", r.Value)
		}
		out = append(out, Series{Metric: r.Metric, Value: fmt.Sprint(r.Value[1])})
	}
	return out, nil
}
