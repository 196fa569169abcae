package procfs_test

import (
	"bytes"
	"fmt"
	"os"
	"strconv"

	"github.com/localsre/sre-agent/internal/procfs"
)

// A file kept open is read again at every tick with one pread; the bytes
// are the caller's to parse, until the reader's next read.
func Example() {
	r := procfs.NewReader("/proc", "/sys", procfs.Budget())
	stat := r.Keep("/proc/self/stat", true)
	defer r.Unkeep(&stat)
	for range 2 {
		var b []byte
		var err error
		if stat.Kept() {
			b, err = r.ReadKept(&stat)
		} else {
			b, err = r.Read("/proc/self/stat") // past the budget: by path
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(bytes.HasPrefix(b, []byte(strconv.Itoa(os.Getpid())+" (")))
	}
	// Output:
	// true
	// true
}
