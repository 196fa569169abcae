package docker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/go-connections/tlsconfig"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// DefaultHost is the daemon asked when DOCKER_HOST is empty.
const DefaultHost = "unix:///var/run/docker.sock"

// Env is the part of the environment that says which daemon to ask, as
// the docker CLI reads it.
type Env struct {
	Host       string // DOCKER_HOST; empty: DefaultHost
	CertPath   string // DOCKER_CERT_PATH: ca.pem, cert.pem, key.pem
	TLSVerify  bool   // DOCKER_TLS_VERIFY non-empty: verify the daemon's certificate
	APIVersion string // DOCKER_API_VERSION; empty: negotiated
}

// EnvFrom reads Env through getenv.
func EnvFrom(getenv func(string) string) Env {
	return Env{
		Host:       getenv("DOCKER_HOST"),
		CertPath:   getenv("DOCKER_CERT_PATH"),
		TLSVerify:  getenv("DOCKER_TLS_VERIFY") != "",
		APIVersion: getenv("DOCKER_API_VERSION"),
	}
}

// Client is a connection to one Docker daemon. It is safe for concurrent
// use; the API version is negotiated on the first request.
type Client struct {
	api  *client.Client
	host string
}

// New returns a client for the daemon env names. It does not connect: a
// daemon that is down is told by the first request.
func New(env Env) (*Client, error) {
	host := env.Host
	if host == "" {
		host = DefaultHost
	}
	var opts []client.Opt
	if env.CertPath != "" {
		// As the docker CLI: the three files of DOCKER_CERT_PATH, the
		// daemon's certificate checked only under DOCKER_TLS_VERIFY.
		cfg, err := tlsconfig.Client(tlsconfig.Options{
			CAFile:             filepath.Join(env.CertPath, "ca.pem"),
			CertFile:           filepath.Join(env.CertPath, "cert.pem"),
			KeyFile:            filepath.Join(env.CertPath, "key.pem"),
			InsecureSkipVerify: !env.TLSVerify,
			MinVersion:         tls.VersionTLS12,
		})
		if err != nil {
			return nil, fmt.Errorf("DOCKER_CERT_PATH %s: %w", env.CertPath, err)
		}
		opts = append(opts, client.WithHTTPClient(&http.Client{
			Transport:     &http.Transport{TLSClientConfig: cfg},
			CheckRedirect: client.CheckRedirect,
		}))
	}
	opts = append(opts, client.WithHost(host))
	if v := strings.TrimPrefix(strings.TrimSpace(env.APIVersion), "v"); v != "" {
		opts = append(opts, client.WithAPIVersion(v))
	}
	api, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("DOCKER_HOST %q: %w", host, err)
	}
	return &Client{api: api, host: host}, nil
}

// Host is the daemon's address as configured, e.g. unix:///var/run/docker.sock.
func (c *Client) Host() string { return c.host }

// SocketPath is the unix socket's path, or "" for a daemon over TCP.
func (c *Client) SocketPath() string {
	if p, ok := strings.CutPrefix(c.host, "unix://"); ok {
		return p
	}
	return ""
}

// Close releases idle connections.
func (c *Client) Close() error { return c.api.Close() }

// Ping asks the daemon whether it answers (and negotiates the version).
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.api.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	return err
}

// APIVersion is the API version in use: the negotiated one after the
// first request.
func (c *Client) APIVersion() string { return c.api.ClientVersion() }

// Container is a container's inspect answer, typed and as the daemon sent it.
type Container struct {
	container.InspectResponse
	Raw []byte
}

// Name is the container's name without Docker's leading slash.
func (ct *Container) Name() string { return strings.TrimPrefix(ct.InspectResponse.Name, "/") }

// RestartPolicy is the container's Docker restart policy, "no" when none.
func (ct *Container) RestartPolicy() string {
	if ct.HostConfig == nil || ct.HostConfig.RestartPolicy.Name == "" {
		return "no"
	}
	return string(ct.HostConfig.RestartPolicy.Name)
}

// Inspect returns GET /containers/{nameOrID}/json. A container that does
// not exist gives an error for which IsNotFound is true.
func (c *Client) Inspect(ctx context.Context, nameOrID string) (Container, error) {
	if err := checkRef(nameOrID); err != nil {
		return Container{}, err
	}
	r, err := c.api.ContainerInspect(ctx, nameOrID, client.ContainerInspectOptions{})
	if err != nil {
		return Container{}, fmt.Errorf("inspect %s: %w", nameOrID, err)
	}
	if r.Container.ID == "" {
		return Container{}, fmt.Errorf("inspect %s: %w: no Id in the answer", nameOrID, ErrBadAnswer)
	}
	return Container{InspectResponse: r.Container, Raw: r.Raw}, nil
}

// ErrBadAnswer is wrapped when the daemon's answer is not what the API says.
var ErrBadAnswer = errors.New("bad answer from the daemon")

// IsNotFound reports an error that says the container does not exist.
func IsNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

// IsUnreachable reports an error that says the daemon could not be
// reached at all (no socket, refused, permission, TLS), as opposed to an
// answer that said no.
func IsUnreachable(err error) bool { return client.IsErrConnectionFailed(err) }

// StopTimeout returns the t= of a restart or stop: seconds the daemon
// waits after the stop signal before SIGKILL; nil leaves the container's
// own (docker run --stop-timeout, else 10 s).
func StopTimeout(seconds int) *int { return &seconds }

// Restart is POST /containers/{name}/restart?t=timeout.
func (c *Client) Restart(ctx context.Context, nameOrID string, timeout *int) error {
	if err := checkRef(nameOrID); err != nil {
		return err
	}
	_, err := c.api.ContainerRestart(ctx, nameOrID, client.ContainerRestartOptions{Timeout: timeout})
	return wrap("restart", nameOrID, err)
}

// Stop is POST /containers/{name}/stop?t=timeout.
func (c *Client) Stop(ctx context.Context, nameOrID string, timeout *int) error {
	if err := checkRef(nameOrID); err != nil {
		return err
	}
	_, err := c.api.ContainerStop(ctx, nameOrID, client.ContainerStopOptions{Timeout: timeout})
	return wrap("stop", nameOrID, err)
}

// Start is POST /containers/{name}/start.
func (c *Client) Start(ctx context.Context, nameOrID string) error {
	if err := checkRef(nameOrID); err != nil {
		return err
	}
	_, err := c.api.ContainerStart(ctx, nameOrID, client.ContainerStartOptions{})
	return wrap("start", nameOrID, err)
}

func wrap(op, ref string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s: %w", op, ref, err)
}

// Call is the Engine API request an operation makes, as a dry run prints
// it: "POST /containers/web/restart?t=10". op is restart, stop or start.
func Call(op, nameOrID string, timeout *int) string {
	s := "POST /containers/" + nameOrID + "/" + op
	if timeout != nil && op != "start" {
		s += "?t=" + strconv.Itoa(*timeout)
	}
	return s
}

// nameRe is Docker's own rule for a container name (daemon/names).
var nameRe = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// ValidName reports whether s is a container name or id Docker accepts:
// [a-zA-Z0-9][a-zA-Z0-9_.-]*, so never an option ("-x") nor a path.
func ValidName(s string) bool { return len(s) <= 255 && nameRe.MatchString(s) }

// checkRef refuses what is not a name or id before it reaches a URL.
func checkRef(s string) error {
	if !ValidName(s) {
		return fmt.Errorf("container %q: not a container name or id ([a-zA-Z0-9][a-zA-Z0-9_.-]*)", truncate(s, 80))
	}
	return nil
}

// Why says what a failed request means for the reader, naming the daemon.
func (c *Client) Why(err error) string {
	where := c.host
	if p := c.SocketPath(); p != "" {
		where = p
	}
	if client.IsErrConnectionFailed(err) && c.SocketPath() != "" {
		// The client's message drops the dial's errno: dial again to
		// tell a daemon that is down from a socket we may not use.
		conn, derr := net.DialTimeout("unix", c.SocketPath(), time.Second)
		if derr == nil {
			conn.Close()
		} else {
			err = derr
		}
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("connection to %s refused (the daemon is not running)", where)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Sprintf("permission denied on %s (the user is not in the docker group)", where)
	case errors.Is(err, syscall.ENOENT):
		return fmt.Sprintf("socket %s absent (no Docker daemon on this host)", where)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Sprintf("no answer from %s in time", where)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Sprintf("%s closed the connection", where)
	}
	if strings.Contains(err.Error(), where) {
		return err.Error()
	}
	return where + ": " + err.Error()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
