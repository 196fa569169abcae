package reportcmd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"net"
	"os"
	"runtime/debug"
	"strings"

	"github.com/localsre/sre-agent/internal/cli"
	"github.com/localsre/sre-agent/internal/dashboard"
)

// defaultServe is where the dashboard listens unless --listen says
// otherwise: loopback, and the port after sre-score's exporter (9478).
const defaultServe = "127.0.0.1:9479"

// serveMemoryLimit is the Go runtime's soft memory limit for serve.
const serveMemoryLimit = 36 << 20

const serveUsage = `sre-report serve — the read-only dashboard of the report directory, in a browser.

Usage:
  sre-report serve [--dir DIR] [--listen ADDR] [--allow-remote] [--allow-host NAME]... [--token-file FILE]

Serves the incidents, reports and trends of DIR on http://127.0.0.1:9479/,
following the directory as sre-report writes to it. A directory that does
not exist yet is served empty until it does. The dashboard can change
nothing: it answers GET and HEAD only, and nothing it serves writes,
signals or runs anything.

It listens on loopback unless --listen names another IP address and
--allow-remote is given (never every interface: 0.0.0.0, :: or ":PORT").
It answers only requests whose Host names it (localhost, a loopback
address, the address it listens on, or a --allow-host NAME), so that no web
page can reach it through a name of its own (DNS rebinding). Every user of
this machine can reach a loopback port: on a shared machine, or with
--allow-remote, give --token-file. Its first line is the token, the file
readable by its owner only (chmod 600); a browser asks for it (any user
name, the token as password), a script sends "Authorization: Bearer TOKEN".

From another machine, reach it through SSH rather than the network:
  ssh -L 9479:127.0.0.1:9479 HOST     then open http://localhost:9479/

It stops on SIGINT or SIGTERM (exit 0). See docs/dashboard.md.

Examples:
  sre-report serve
  sre-report serve --dir /var/lib/sre/reports --listen 127.0.0.1:8080
  sre-report serve --token-file ~/.config/sre-agent/token
  sre-report serve --allow-host sre.example.internal      # behind a reverse proxy on this machine
  sre-report serve --listen 192.0.2.10:9479 --allow-remote --token-file /etc/sre-agent/token
`

type serveOptions struct {
	dir         string
	listen      string
	allowRemote bool
	allowHosts  []string
	tokenFile   string
}

func runServe(ctx context.Context, std cli.IO, args []string) error {
	o := &serveOptions{}
	flags := cli.NewFlagSet(tool+" serve", serveUsage, std.Out)
	flags.StringVar(&o.dir, "dir", dirDefault(std), "report directory (env SRE_REPORT_DIR)")
	flags.StringVar(&o.listen, "listen", defaultServe, "serve on `ADDR` (HOST:PORT; loopback unless --allow-remote)")
	flags.BoolVar(&o.allowRemote, "allow-remote", false, "let --listen bind the non-loopback IP address it names (reachable from the network: give --token-file)")
	flags.StringArrayVar(&o.allowHosts, "allow-host", nil, "also answer requests whose Host is `NAME` (an SSH tunnel's or a reverse proxy's name; repeatable)")
	flags.StringVar(&o.tokenFile, "token-file", "", "ask every request for the token on the first line of `FILE` (mode 600)")
	if err := cli.Parse(flags, args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return cli.Usagef("serve: unexpected argument %q", flags.Arg(0))
	}
	if o.dir == "" {
		return cli.Usagef("--dir: empty")
	}
	host, err := cli.CheckListen(o.listen, defaultServe, o.allowRemote)
	if err != nil {
		return err
	}
	for _, h := range o.allowHosts {
		if !validHostName(h) {
			return cli.Usagef("--allow-host %q: want a host name or IP address, without scheme, port or path", h)
		}
	}
	var token []byte
	if o.tokenFile != "" {
		if token, err = dashboard.ReadTokenFile(o.tokenFile); err != nil {
			return cli.Usagef("--token-file %s: %v", o.tokenFile, err)
		}
	}
	missing := false
	if st, err := os.Stat(o.dir); errors.Is(err, fs.ErrNotExist) {
		missing = true
	} else if err != nil {
		return cli.Failf("--dir %s: %v", o.dir, bareErr(err))
	} else if !st.IsDir() {
		return cli.Usagef("--dir %s: not a directory", o.dir)
	}

	// A soft memory limit keeps the server's RSS to its bar (DESIGN §7:
	// < 50 MiB on 100,000 events) through the garbage of a first read or a
	// search; the live data is a fraction of it. GOMEMLIMIT overrides it.
	if std.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serveMemoryLimit)
	}
	d, err := dashboard.New(dashboard.Options{Dir: o.dir, Now: std.Now, Err: std.Err})
	if err != nil {
		return cli.Failf("dashboard: %v", err)
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return cli.Failf("--listen %s: %v", o.listen, bareErr(err))
	}
	url := "http://" + ln.Addr().String() + "/"
	if ip := net.ParseIP(host); o.allowRemote && host != "localhost" && ip != nil && !ip.IsLoopback() {
		if token == nil {
			fmt.Fprintf(std.Err, "%s: warning: the dashboard on %s is reachable from the network, without a token: whoever reaches it reads every report; give --token-file, or listen on 127.0.0.1 and use ssh -L\n", tool, url)
		} else {
			fmt.Fprintf(std.Err, "%s: warning: the dashboard on %s is reachable from the network; its token crosses it in clear text: put TLS in front, or listen on 127.0.0.1 and use ssh -L\n", tool, url)
		}
	}
	if missing {
		fmt.Fprintf(std.Err, "%s: %s does not exist yet; the dashboard shows its incidents once sre-report writes there\n", tool, o.dir)
	}
	fmt.Fprintf(std.Err, "%s: serving the dashboard of %s on %s (read-only)\n", tool, o.dir, url)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runDone, serveDone := make(chan error, 1), make(chan error, 1)
	go func() { runDone <- d.Run(ctx) }()
	h := dashboard.Guard(dashboard.GuardConfig{Hosts: append([]string{host}, o.allowHosts...), Token: token}, d.Handler())
	go func() {
		serveDone <- dashboard.Serve(ctx, ln, h, dashboard.ServeConfig{ErrorLog: log.New(std.Err, tool+": ", 0)})
	}()
	// Either ending ends the other.
	var runErr, serveErr error
	select {
	case runErr = <-runDone:
		cancel()
		serveErr = <-serveDone
	case serveErr = <-serveDone:
		cancel()
		runErr = <-runDone
	}
	switch {
	case runErr != nil:
		return cli.Failf("dashboard of %s: %v", o.dir, runErr)
	case serveErr != nil:
		return cli.Failf("serving %s: %v", url, serveErr)
	}
	return nil
}

// validHostName reports whether name is a DNS name or an IP address (an
// IPv6 one maybe in brackets) and nothing else.
func validHostName(name string) bool {
	if ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")); ip != nil {
		return true
	}
	if name == "" || len(name) > 253 {
		return false
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// bareErr is err without the operation, address or path that a
// *net.OpError, *os.SyscallError or *fs.PathError adds, for an error line
// that names them already.
func bareErr(err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Err
	}
	return err
}
