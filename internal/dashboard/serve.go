package dashboard

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"time"
)

// MaxHeaderBytes is the most a request line and its headers may take; a
// longer request is answered 431 and its connection closed.
const MaxHeaderBytes = 16 << 10

// ServeConfig bounds what one client may hold of the server. Zero fields
// take their defaults.
type ServeConfig struct {
	// ReadHeaderTimeout is how long a client has to send its request line
	// and headers from the start of its request (default 5 s); a client
	// that dribbles them is cut off.
	ReadHeaderTimeout time.Duration
	// ReadTimeout is how long a client has to send its whole request
	// (default 10 s). It does not cut a stream: net/http lifts the read
	// deadline once the request is read.
	ReadTimeout time.Duration
	// WriteTimeout is the deadline of each answer's writes, set when its
	// request has been read (default 30 s). A stream (the live events)
	// moves it forward before each write with
	// http.ResponseController.SetWriteDeadline, so that it lives as long
	// as its reader reads, and a reader that stopped is cut off.
	WriteTimeout time.Duration
	// IdleTimeout is how long a kept-alive connection may wait for its
	// next request (default 60 s).
	IdleTimeout time.Duration
	// ShutdownTimeout is how long Serve waits, once its context is done,
	// for the answers under way to end before it closes their connections
	// (default 2 s).
	ShutdownTimeout time.Duration
	// ErrorLog gets the server's own errors (a handler's panic, a failed
	// accept); nil discards them.
	ErrorLog *log.Logger
}

// Serve answers HTTP/1.1 on ln with h until ctx is done, then shuts down:
// it stops accepting, cancels the context of every request under way (so
// a stream ends), waits up to c.ShutdownTimeout for the answers to end
// and closes what is left. It returns nil after a shutdown, or the error
// that stopped it serving; ln is closed either way.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, c ServeConfig) error {
	c = c.withDefaults()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		// Requests live inside ctx: when it is done, every stream sees
		// its request's context done and returns.
		BaseContext: func(net.Listener) context.Context { return ctx },
		// "OPTIONS *" goes to h too (to be refused), not to net/http's
		// built-in answer.
		DisableGeneralOptionsHandler: true,
		ErrorLog:                     c.ErrorLog,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-done
	return nil
}

func (c ServeConfig) withDefaults() ServeConfig {
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = 5 * time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 10 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 60 * time.Second
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 2 * time.Second
	}
	if c.ErrorLog == nil {
		c.ErrorLog = log.New(io.Discard, "", 0)
	}
	return c
}
