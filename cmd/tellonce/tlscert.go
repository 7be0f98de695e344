package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// certPoll is how often the certificate files are looked at for a change
// (a renewal that sends no SIGHUP, such as a mounted secret's update).
const certPoll = 30 * time.Second

// certReloader serves the TLS certificate from --tls-cert and --tls-key
// and loads them again on SIGHUP or when either file changes; a bad pair
// is logged and the one in use stays.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	poll              time.Duration

	mu    sync.Mutex
	cert  *tls.Certificate
	stamp string // the files' sizes and times when cert was loaded
}

func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile, log: log, poll: certPoll}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// GetCertificate is tls.Config's hook: every handshake takes the latest.
func (c *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cert, nil
}

func (c *certReloader) stampNow() string {
	s := ""
	for _, f := range []string{c.certFile, c.keyFile} {
		if fi, err := os.Stat(f); err == nil {
			s += fmt.Sprintf("%d@%d;", fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return s
}

func (c *certReloader) reload() error {
	stamp := c.stampNow()
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("--tls-cert %s / --tls-key %s: %w", c.certFile, c.keyFile, err)
	}
	c.mu.Lock()
	c.cert, c.stamp = &cert, stamp
	c.mu.Unlock()
	return nil
}

// Run reloads on SIGHUP and on a change of either file until ctx ends.
func (c *certReloader) Run(ctx context.Context) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	return c.run(ctx, hup)
}

func (c *certReloader) run(ctx context.Context, hup <-chan os.Signal) error {
	t := time.NewTicker(c.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			c.reloadLogged("SIGHUP")
		case <-t.C:
			c.mu.Lock()
			changed := c.stampNow() != c.stamp
			c.mu.Unlock()
			if changed {
				c.reloadLogged("the files changed")
			}
		}
	}
}

func (c *certReloader) reloadLogged(why string) {
	if err := c.reload(); err != nil {
		// A half-written renewal is seen again at the next look.
		c.log.Error("TLS certificate not reloaded; the previous one stays in use", "why", why, "err", err)
		return
	}
	c.log.Info("TLS certificate reloaded", "why", why, "cert", c.certFile)
}

// listenTLS wraps ln in TLS with the reloader's certificate. HTTP/1.1
// only: the WebSockets need it, and one protocol keeps one path to test.
func listenTLS(ln net.Listener, certs *certReloader) net.Listener {
	return tls.NewListener(ln, &tls.Config{
		GetCertificate: certs.GetCertificate,
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"http/1.1"},
	})
}

// warnPlainHTTP logs when the server speaks plain HTTP on an address other
// machines can reach: logins and personal data would cross the network in
// clear unless a TLS proxy sits in front.
func warnPlainHTTP(log *slog.Logger, addr string) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return
	}
	if host == "localhost" {
		return
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return
	}
	log.Warn("serving plain HTTP on a non-loopback address: logins, cookies and personal data cross the network unencrypted; "+
		"set --tls-cert and --tls-key, or put a TLS-terminating proxy in front and listen on 127.0.0.1", "addr", addr)
}

var errTLSPair = errors.New("--tls-cert and --tls-key go together: set both or neither")
