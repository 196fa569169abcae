package report_test

import (
	"fmt"
	"time"

	"github.com/localsre/sre-agent/internal/report"
)

// Any process name makes a safe report file name.
func ExampleFileName() {
	at := time.Date(2026, 11, 27, 3, 41, 11, 0, time.UTC)
	fmt.Println(report.FileName(at, "api", "crash", "3f9a1c2e"))
	fmt.Println(report.FileName(at, "../../etc/x", "crash", "3f9a1c2e"))
	fmt.Println(report.FileName(at, "; rm -rf ~", "oom_kill", "0badc0de"))
	// Output:
	// 20261127T034111Z_api_crash_3f9a1c2e.txt
	// 20261127T034111Z_etc_x_crash_3f9a1c2e.txt
	// 20261127T034111Z_rm_-rf_oom_kill_0badc0de.txt
}
