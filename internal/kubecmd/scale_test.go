package kubecmd

import (
	"fmt"
	"testing"
)

func TestScaleTarget(t *testing.T) {
	for _, c := range []struct {
		b    scaleBounds
		cur  int
		want int
		why  string
	}{
		{scaleBounds{by: 1, hasBy: true, min: 1, max: 3, step: 1}, 2, 3, ""},
		{scaleBounds{by: 1, hasBy: true, min: 1, max: 3, step: 1}, 3, 3, "at max 3"},
		{scaleBounds{by: 5, hasBy: true, min: 1, max: 10, step: 2}, 2, 4, "step 2"},
		{scaleBounds{by: 5, hasBy: true, min: 1, max: 3, step: 5}, 2, 3, "at max 3"},
		{scaleBounds{by: -1, hasBy: true, min: 1, max: 3, step: 1}, 1, 1, "at min 1"},
		{scaleBounds{by: -3, hasBy: true, min: 0, max: 3, step: 3, allowZero: true}, 2, 0, "at min 0"},
		{scaleBounds{by: -1, hasBy: true, min: 0, max: 3, step: 1}, 1, 1, "at min 1"}, // never 0 without allow_zero
		{scaleBounds{to: 8, hasTo: true, min: 1, max: 10, step: 2}, 3, 5, "step 2"},
		{scaleBounds{to: 3, hasTo: true, min: 1, max: 10, step: 2}, 3, 3, "already 3"},
		{scaleBounds{by: 1, hasBy: true, min: 1, max: 3, step: 1}, 9, 8, "step 1"}, // above max: back toward it, a step at a time
		{scaleBounds{by: 1, hasBy: true, min: 2, max: 3, step: 5}, 0, 2, "at min 2"},
	} {
		t.Run(fmt.Sprintf("%+v from %d", c.b, c.cur), func(t *testing.T) {
			got, why := c.b.target(c.cur)
			if got != c.want || why != c.why {
				t.Errorf("got %d %q, want %d %q", got, why, c.want, c.why)
			}
		})
	}
}
