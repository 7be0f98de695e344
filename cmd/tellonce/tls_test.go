package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"tellonce/clocktest"
	"tellonce/servertest"
)

// writeCert writes a self-signed certificate for 127.0.0.1 named cn, and
// its key, to certFile and keyFile, and returns it for a client's pool.
func writeCert(t *testing.T, certFile, keyFile, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func servedCN(c *certReloader) string {
	cert, _ := c.GetCertificate(nil)
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return err.Error()
	}
	return leaf.Subject.CommonName
}

func TestCertReloadsOnSIGHUPAndOnChange(t *testing.T) {
	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, cf, kf, "first")
	var logs servertest.LogBuffer
	c, err := newCertReloader(cf, kf, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if got := servedCN(c); got != "first" {
		t.Fatalf("served %q, want first", got)
	}

	t.Run("SIGHUP", func(t *testing.T) {
		c.poll = time.Hour // only the signal can reload
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		hup := make(chan os.Signal, 1)
		done := make(chan error, 1)
		go func() { done <- c.run(ctx, hup) }()
		writeCert(t, cf, kf, "second")
		hup <- os.Interrupt
		clocktest.Eventually(t, "the renewed certificate served after SIGHUP", 5*time.Second, func() bool { return servedCN(c) == "second" })
		// A broken pair is refused and the one in use stays.
		if err := os.WriteFile(kf, []byte("not a key"), 0o600); err != nil {
			t.Fatal(err)
		}
		hup <- os.Interrupt
		clocktest.Eventually(t, "the refusal logged", 5*time.Second, func() bool { return strings.Contains(logs.String(), "not reloaded") })
		if got := servedCN(c); got != "second" {
			t.Errorf("after a bad reload served %q, want second kept", got)
		}
		cancel()
		<-done
	})

	t.Run("file change", func(t *testing.T) {
		c.poll = 10 * time.Millisecond
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- c.run(ctx, nil) }()
		writeCert(t, cf, kf, "third")
		clocktest.Eventually(t, "the changed files served", 5*time.Second, func() bool { return servedCN(c) == "third" })
		cancel()
		<-done
	})
}

func TestTLSFlagsGoTogether(t *testing.T) {
	if _, err := parseServe("serve", []string{"--tls-cert", "c.pem"}, io.Discard, env(nil)); err != errTLSPair {
		t.Errorf("--tls-cert alone: %v, want %v", err, errTLSPair)
	}
	c, err := parseServe("serve", nil, io.Discard, env(map[string]string{"TELLONCE_TLS_CERT": "c.pem", "TELLONCE_TLS_KEY": "k.pem"}))
	if err != nil || !c.web.SecureCookies || c.tlsCert != "c.pem" || c.tlsKey != "k.pem" {
		t.Errorf("TLS from the environment: %+v %v; want both files and Secure cookies", c.web, err)
	}
}

func TestPlainHTTPOnTheNetworkWarns(t *testing.T) {
	for addr, warn := range map[string]bool{"0.0.0.0:8080": true, "10.1.2.3:80": true, "[::]:8080": true,
		"127.0.0.1:8080": false, "[::1]:8080": false, "localhost:8080": false} {
		var b bytes.Buffer
		warnPlainHTTP(slog.New(slog.NewTextHandler(&b, nil)), addr)
		if got := strings.Contains(b.String(), "plain HTTP"); got != warn {
			t.Errorf("%s: warned %v, want %v (%q)", addr, got, warn, b.String())
		}
	}
}

var servingAnyRE = regexp.MustCompile(`serving on (https?://[0-9.:]+/)`)

// serveWith runs serve on a fresh SQLite file with flags and returns its
// base URL; it stops when the test ends.
func serveWith(t *testing.T, flags ...string) (string, *servertest.LogBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, logs servertest.LogBuffer
	done := make(chan error, 1)
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "t.db")}, flags...)
	go func() {
		done <- run(ctx, args, &out, &logs, env(map[string]string{"TELLONCE_ADMIN_PASSWORD": e2eAdminPassword}))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve stopped with %v", err)
		}
	})
	var base string
	clocktest.Eventually(t, "serve reports its address", 60*time.Second, func() bool {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("serve exited: %v\n%s", err, logs.String())
		default:
		}
		m := servingAnyRE.FindStringSubmatch(out.String())
		if m != nil {
			base = m[1]
		}
		return m != nil
	})
	return base, &logs
}

// Over TLS: HTTPS with the given certificate, HSTS on every answer, the
// session cookie Secure.
func TestServeOverTLS(t *testing.T) {
	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	leaf := writeCert(t, cf, kf, "tellonce-test")
	base, _ := serveWith(t, "--tls-cert", cf, "--tls-key", kf)
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("serving on %s, want https", base)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(base + "v1/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hsts := resp.Header.Get("Strict-Transport-Security"); !strings.Contains(hsts, "max-age=") {
		t.Errorf("Strict-Transport-Security = %q, want max-age", hsts)
	}
	resp, err = client.Post(base+"v1/sessions", "application/json", strings.NewReader(`{"username":"admin","password":"`+e2eAdminPassword+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("login: %s", resp.Status)
	}
	if len(resp.Cookies()) == 0 || !resp.Cookies()[0].Secure {
		t.Errorf("session cookie %v, want Secure", resp.Header.Values("Set-Cookie"))
	}
}

func TestPlainHTTPSendsNoHSTS(t *testing.T) {
	base, _ := serveWith(t)
	resp, err := http.Get(base + "v1/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h := resp.Header.Get("Strict-Transport-Security"); h != "" {
		t.Errorf("plain HTTP sent Strict-Transport-Security %q", h)
	}
}
