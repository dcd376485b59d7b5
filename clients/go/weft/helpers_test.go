package weft_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testSecret is the secret the test server signs step requests with.
const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// repoRoot finds the repository root from the test's working directory
// (clients/go/weft when run by go test).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "test", "vectors", "signatures.json")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root (with test/vectors/signatures.json) not found above the working directory")
		}
		dir = parent
	}
}

// weftServer is a real Weft server running as a child process.
type weftServer struct {
	cmd     *exec.Cmd
	addr    string // 127.0.0.1:port
	dataDir string
	out     *logWriter
	exited  chan struct{}
}

var (
	sharedOnce   sync.Once
	sharedServer *weftServer
	sharedErr    error

	keyedOnce   sync.Once
	keyedServer *weftServer
	keyedErr    error
)

// The API keys of the keyed server (keyedAddr).
const (
	testWriteKey = "wk_go_e2e_4b7d1a9c3e6f2058"
	testReadKey  = "rk_go_e2e_8e2a5c1f7d3b9064"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedServer != nil {
		sharedServer.stop()
	}
	if keyedServer != nil {
		keyedServer.stop()
	}
	os.Exit(code)
}

// keyedAddr starts, on first use, a Weft server that requires API keys
// (testWriteKey, testReadKey) and returns its address.
func keyedAddr(t *testing.T) string {
	t.Helper()
	keyedOnce.Do(func() {
		keyedServer, keyedErr = startWeft("--api-keys", "write:"+testWriteKey+",read:"+testReadKey)
	})
	if keyedErr != nil {
		t.Fatal(keyedErr)
	}
	return keyedServer.addr
}

// weftAddr starts the shared Weft server on first use and returns its address.
func weftAddr(t *testing.T) string {
	t.Helper()
	sharedOnce.Do(func() { sharedServer, sharedErr = startWeft() })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedServer.addr
}

// logWriter keeps the child's output (for error messages) and reports the
// port of the "weft listening" log line.
type logWriter struct {
	mu      sync.Mutex
	all     bytes.Buffer
	partial []byte
	port    chan int
	found   bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.all.Len() < 1<<20 {
		w.all.Write(p)
	}
	if w.found || w.port == nil {
		return len(p), nil
	}
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := w.partial[:i]
		w.partial = w.partial[i+1:]
		var entry struct {
			Msg  string `json:"msg"`
			Port int    `json:"port"`
		}
		if json.Unmarshal(line, &entry) == nil && entry.Msg == "weft listening" && entry.Port > 0 {
			w.found = true
			w.partial = nil
			w.port <- entry.Port
			break
		}
	}
	return len(p), nil
}

func (w *logWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.all.String()
}

// startWeft starts a server; extraArgs are added to its command line.
func startWeft(extraArgs ...string) (*weftServer, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	node := filepath.Join(root, "node_modules", ".bin", "node")
	if _, err := os.Stat(node); err != nil {
		return nil, fmt.Errorf("the Go e2e tests need the project's Node runtime at %s (%v): run `npm ci` in %s first", node, err, root)
	}
	dataDir, err := os.MkdirTemp("", "weft-go-e2e-")
	if err != nil {
		return nil, err
	}
	out := &logWriter{port: make(chan int, 1)}
	args := append([]string{"src/main.ts",
		"--host", "127.0.0.1", "--port", "0", "--data-dir", dataDir,
		"--signing-secrets", testSecret, "--shutdown-grace-ms", "2000"}, extraArgs...)
	cmd := exec.Command(node, args...)
	cmd.Dir = root
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.WaitDelay = 5 * time.Second
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dataDir)
		return nil, fmt.Errorf("starting %s: %w", node, err)
	}
	s := &weftServer{cmd: cmd, dataDir: dataDir, out: out, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	select {
	case port := <-out.port:
		s.addr = "127.0.0.1:" + strconv.Itoa(port)
		return s, nil
	case <-s.exited:
		os.RemoveAll(dataDir)
		return nil, fmt.Errorf("weft exited before listening (%v):\n%s", cmd.ProcessState, out)
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, fmt.Errorf("weft did not log \"weft listening\" within 30 s:\n%s", out)
	}
}

// stop ends the server (SIGTERM, then SIGKILL) and removes its data.
func (s *weftServer) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	os.RemoveAll(s.dataDir)
}
