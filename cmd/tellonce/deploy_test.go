package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// dockerBuildCommand is the Dockerfile's `RUN … go build …` line, the
// command the image's build stage runs.
func dockerBuildCommand(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^RUN (.*go build .*)$`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("Dockerfile: no RUN … go build line")
	}
	return m[1]
}

// The image's build stage builds the same binary: its command, run here on
// the same context (the repository), gives a static tellonce that reports
// the version it was given.
func TestDockerfileBuildsTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildFromDockerfile(t)
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("version: %v: %s", err, out)
	}
	if !strings.HasPrefix(string(out), "tellonce v-test") {
		t.Errorf("version = %q, want the VERSION build argument", out)
	}
	// Static: no program interpreter, so it runs on a distroless image.
	if f, err := os.ReadFile(bin); err == nil && bytes.Contains(f, []byte("/lib64/ld-linux")) {
		t.Error("the binary is dynamically linked; the runtime image has no libc")
	}
}

func buildFromDockerfile(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := dockerBuildCommand(t)
	cmd = strings.ReplaceAll(cmd, "/out/tellonce", filepath.Join(dir, "tellonce"))
	c := exec.Command("sh", "-c", cmd)
	c.Dir = "../.."
	c.Env = append(os.Environ(), "VERSION=v-test")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return filepath.Join(dir, "tellonce")
}

// The Dockerfile's health check asks /readyz with the binary's own probe.
func TestDockerfileChecksReadiness(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"HEALTHCHECK", `"probe", "http://127.0.0.1:8080/readyz"`, "USER nonroot", "CGO_ENABLED=0"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

func TestProbe(t *testing.T) {
	code := http.StatusOK
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(code)
	}))
	defer ts.Close()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"probe", ts.URL + "/readyz"}, &out, &out, os.Getenv); err != nil {
		t.Fatalf("probe of a ready server: %v", err)
	}
	code = http.StatusServiceUnavailable
	if err := run(context.Background(), []string{"probe", ts.URL + "/readyz"}, &out, &out, os.Getenv); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("probe of a server not ready = %v, want an error naming 503", err)
	}
}

// The unit passes systemd's own check (with the binary's path pointed at
// one that exists) and keeps the settings the docs promise.
func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile("../../deploy/tellonce.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"LimitNOFILE=1048576", "ExecReload=/bin/kill -HUP $MAINPID", "NoNewPrivileges=yes",
		"ProtectSystem=strict", "DynamicUser=yes", "StateDirectory=tellonce", "SystemCallFilter=@system-service"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("deploy/tellonce.service lacks %q", want)
		}
	}
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		// make test installs it (scripts/install-deps systemd).
		t.Fatal("systemd-analyze is not installed: run scripts/install-deps systemd")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), "tellonce.service")
	if err := os.WriteFile(unit, bytes.ReplaceAll(b, []byte("/usr/local/bin/tellonce"), []byte(exe)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sa, "verify", unit).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
