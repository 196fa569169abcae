package sampler

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// readBootTime reads the boot time (seconds since the epoch) from the btime
// line of /proc/stat: process start times are offsets from it.
func readBootTime(procRoot string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, "stat"))
	if err != nil {
		return 0, err
	}
	return parseBtime(b)
}

func parseBtime(b []byte) (uint64, error) {
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%w: stat: btime %q", ErrParse, v)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("%w: stat: no btime line", ErrParse)
}
