package waitset_test

import (
	"fmt"
	"time"

	"github.com/localsre/sre-agent/internal/waitset"
)

// A loop that wakes at every tick and ends when another goroutine wakes it.
func Example() {
	w, err := waitset.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()
	w.SetTimer(waitset.Tick, 5*time.Millisecond)
	ticks := 0
	for {
		wu, err := w.Wait()
		if err != nil {
			fmt.Println(err)
			return
		}
		if wu.Woken {
			break
		}
		if wu.Tick {
			if ticks++; ticks == 3 {
				go w.Wake() // as a cancellation would, from another goroutine
			}
		}
	}
	fmt.Println("ticks before the wake:", ticks >= 3)
	// Output: ticks before the wake: true
}
