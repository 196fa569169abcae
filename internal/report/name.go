package report

import (
	"strings"
	"time"
)

// maxTargetInName bounds the target's part of a file name.
const maxTargetInName = 48

// SafeName turns any target or type into a file-name part: letters, digits,
// '.', '-' and '_' stay; every other byte becomes '_'; runs of '_' collapse;
// it never starts with '.', is never empty, and is at most max bytes.
// "../../etc/x" becomes "etc_x", "; rm -rf ~" becomes "rm_-rf".
func SafeName(s string, max int) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	out := b.String()
	for strings.Contains(out, "..") {
		out = strings.ReplaceAll(out, "..", "_")
	}
	for strings.Contains(out, "__") {
		out = strings.ReplaceAll(out, "__", "_")
	}
	out = strings.Trim(out, "_.-")
	if len(out) > max {
		out = strings.TrimRight(out[:max], "_.-")
	}
	if out == "" {
		return "unnamed"
	}
	return out
}

// FileName is "<UTC time>_<target>_<type>_<short id>.txt".
func FileName(at time.Time, target, typ, shortID string) string {
	return at.UTC().Format("20060102T150405Z") + "_" + SafeName(target, maxTargetInName) + "_" +
		SafeName(typ, 32) + "_" + SafeName(shortID, 16) + ".txt"
}

// IsReportName reports whether a directory entry is a report file by its
// name (the time prefix and the .txt suffix).
func IsReportName(name string) bool {
	if !strings.HasSuffix(name, ".txt") || len(name) < len("20060102T150405Z_x.txt") {
		return false
	}
	_, err := time.Parse("20060102T150405Z", name[:16])
	return err == nil && name[16] == '_'
}
