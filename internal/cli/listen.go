package cli

import (
	"net"
	"strings"
)

// CheckListen checks a --listen ADDR and returns its host. It refuses any
// address but loopback unless allowRemote is set, and then wants an
// explicit IP address: ":9478", 0.0.0.0 or :: would be every interface,
// and a name could resolve to any of them. example is the address the
// error suggests.
func CheckListen(addr, example string, allowRemote bool) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", Usagef("--listen %q: want HOST:PORT such as %s", addr, example)
	}
	if host == "localhost" {
		return host, nil
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.IsLoopback() {
		return host, nil
	}
	if !allowRemote {
		return "", Usagef("--listen %q: not a loopback address; give --allow-remote to serve it", addr)
	}
	if ip == nil || ip.IsUnspecified() {
		return "", Usagef("--listen %q: --allow-remote needs an explicit IP address, not every interface", addr)
	}
	return host, nil
}

// HostAllowed returns the check a server makes of a request's Host header
// against DNS rebinding: a page of evil.example whose name the attacker
// points at 127.0.0.1 reaches a loopback server, but with Host
// evil.example. It accepts localhost, a loopback IP, or one of hosts (the
// address the listener was given, names the user trusts), with any port,
// case-insensitively; an IP address matches the same address however it
// is written. An empty Host is refused.
func HostAllowed(hosts ...string) func(hostport string) bool {
	return func(hostport string) bool {
		host := hostport
		if h, _, err := net.SplitHostPort(hostport); err == nil {
			host = h
		}
		host = strings.Trim(host, "[]")
		if host == "" {
			return false
		}
		if strings.EqualFold(host, "localhost") {
			return true
		}
		ip := net.ParseIP(host)
		if ip != nil && ip.IsLoopback() {
			return true
		}
		for _, h := range hosts {
			h = strings.Trim(h, "[]")
			if h == "" {
				continue
			}
			if strings.EqualFold(host, h) {
				return true
			}
			if hip := net.ParseIP(h); ip != nil && hip != nil && ip.Equal(hip) {
				return true
			}
		}
		return false
	}
}
