// Package uitest drives tellonce's consoles in a real headless Chromium
// against a real server on loopback: the binary is built once, started
// with --demo on a fresh SQLite file, and every test talks to it through
// the browser (and, to arrange things, through the public API).
package uitest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tellonce/servertest"
)

const (
	chromiumPath  = "/usr/bin/chromium"
	demoPassword  = "tellonce-demo"
	adminPassword = "uitest-admin-password"
)

var (
	baseURL  string // http://127.0.0.1:port
	repoRoot string
	logPath  string
	addrSeq  atomic.Int32 // gives each API caller its own client address
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if _, err := os.Stat(chromiumPath); err != nil {
		// Locally a missing browser skips the package; CI must run it.
		fmt.Println("uitest: no Chromium at " + chromiumPath + " (make deps installs it)")
		if os.Getenv("CI") != "" {
			return 1
		}
		return 0
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		fmt.Println("uitest:", err)
		return 1
	}
	repoRoot = root
	tmp, err := os.MkdirTemp("", "tellonce-uitest-")
	if err != nil {
		fmt.Println("uitest:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "tellonce")
	build := exec.Command("go", "build", "-o", bin, "./cmd/tellonce")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Printf("uitest: build: %v\n%s", err, out)
		return 1
	}
	stop, err := startServer(bin, tmp)
	if err != nil {
		fmt.Println("uitest:", err)
		return 1
	}
	code := m.Run()
	stop()
	if code != 0 {
		if b, err := os.ReadFile(logPath); err == nil {
			fmt.Printf("--- server log (last 6000 bytes) ---\n%s\n", tail(b, 6000))
		}
	}
	return code
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// server is the tellonce process the tests talk to.
var server struct {
	bin, dir string
	cmd      *exec.Cmd
	done     chan struct{}
	logFile  *os.File
}

// startServer runs "tellonce serve --demo" on a free loopback port and
// waits for the address it prints. --trust-proxy lets the tests' own API
// calls each come from a different X-Forwarded-For address, so the login
// and chat rate limits (which the browser's requests still meet) are not
// spent by the arranging.
func startServer(bin, dir string) (stop func(), err error) {
	server.bin, server.dir = bin, dir
	logPath = filepath.Join(dir, "server.log")
	if server.logFile, err = os.Create(logPath); err != nil {
		return nil, err
	}
	if err := launch("127.0.0.1:0"); err != nil {
		return nil, err
	}
	return func() {
		halt()
		server.logFile.Close()
	}, nil
}

func launch(addr string) error {
	// Every page of the browser comes from 127.0.0.1: the per-address chat
	// limit (tested on its own in web) would pace the tests' chats.
	cmd := exec.Command(server.bin, "serve", "--demo", "--addr", addr, "--db", dbFile(),
		"--trust-proxy", "127.0.0.1,::1", "--chat-burst", "1000", "--log-level", "info")
	cmd.Env = append(os.Environ(), "TELLONCE_ADMIN_PASSWORD="+adminPassword)
	cmd.Stderr = server.logFile
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(server.logFile, line)
			if u, ok := servertest.ServingURL(line); ok {
				select {
				case found <- strings.TrimSuffix(u, "/"):
				default:
				}
			}
		}
	}()
	server.cmd, server.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(server.done) }()
	select {
	case baseURL = <-found:
		return nil
	case <-server.done:
		return fmt.Errorf("the server exited before serving; see %s", logPath)
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		return fmt.Errorf("the server did not print its address within 60 s; see %s", logPath)
	}
}

// dbFile is the server's SQLite database.
func dbFile() string { return filepath.Join(server.dir, "t.db") }

// halt stops the server gracefully (as a deployment does), or kills it
// after 20 s.
func halt() {
	_ = server.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-server.done:
	case <-time.After(20 * time.Second):
		_ = server.cmd.Process.Kill()
		<-server.done
	}
}

// restartServer stops the server and starts it again on the same address
// and database, as an upgrade or a crash-and-restart would.
func restartServer(t *testing.T) {
	t.Helper()
	addr := strings.TrimPrefix(baseURL, "http://")
	halt()
	if err := launch(addr); err != nil {
		t.Fatalf("restart the server: %v", err)
	}
}

// rounds notices a repeated run (go test -count=N): the tests use the
// demo's fixed agents, callers and queue ids, so a second round on the same
// server would meet the first round's chats, queues and wrap-ups. Each
// round gets a fresh server instead.
var rounds struct {
	mu      sync.Mutex
	current testing.TB      // the top-level test running now
	ran     map[string]bool // top-level tests run on this server
}

// beginTest is called by every way a test reaches the server (the browser,
// the API client); the first call of a top-level test that already ran on
// this server starts a fresh server on a fresh database. Tests run one at a
// time, so the test seen last is the one running.
func beginTest(tb testing.TB) {
	tb.Helper()
	name := tb.Name()
	if strings.Contains(name, "/") {
		return // a subtest belongs to the test already begun
	}
	rounds.mu.Lock()
	defer rounds.mu.Unlock()
	if rounds.current == tb {
		return
	}
	rounds.current = tb
	if rounds.ran == nil {
		rounds.ran = map[string]bool{}
	}
	if rounds.ran[name] {
		halt()
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(dbFile() + suffix); err != nil && !os.IsNotExist(err) {
				tb.Fatalf("fresh database for the next round: %v", err)
			}
		}
		if err := launch("127.0.0.1:0"); err != nil {
			tb.Fatalf("fresh server for the next round: %v", err)
		}
		clear(rounds.ran)
	}
	rounds.ran[name] = true
}

// apiClient calls the public API as one logged-in user, from an address of
// its own.
type apiClient struct {
	t     testing.TB
	token string
	addr  string
}

func newAddr() string { return fmt.Sprintf("198.51.100.%d", addrSeq.Add(1)%250+1) }

// call sends one API request and decodes a JSON answer into out (if not
// nil); it returns the status code.
func (c *apiClient) call(method, path string, body, out any) int {
	c.t.Helper()
	beginTest(c.t)
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, baseURL+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.addr == "" {
		c.addr = newAddr()
	}
	req.Header.Set("X-Forwarded-For", c.addr)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %d %s: %v", method, path, res.StatusCode, b, err)
		}
	}
	return res.StatusCode
}

// login logs a user in through the API and returns their client and token.
func login(t testing.TB, username, password string) *apiClient {
	t.Helper()
	c := &apiClient{t: t, addr: newAddr()}
	var out struct {
		Token string `json:"token"`
	}
	if code := c.call("POST", "/v1/sessions", map[string]string{"username": username, "password": password}, &out); code != http.StatusCreated {
		t.Fatalf("log in %s: status %d", username, code)
	}
	c.token = out.Token
	return c
}

var screenshotMu sync.Mutex

// screenshotPath is where a failing test's screenshot goes.
func screenshotPath(name string) string {
	dir := filepath.Join(repoRoot, "test-output", "screenshots")
	_ = os.MkdirAll(dir, 0o755)
	return filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(name)+".png")
}

// withTimeout bounds one step of a test.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}
