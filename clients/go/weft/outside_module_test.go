package weft_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	weftv1 "github.com/weftflow/weft/clients/go/gen/weft/v1"
	"github.com/weftflow/weft/clients/go/weft"
)

const clientModule = "github.com/weftflow/weft/clients/go"

// TestOutsideModule builds testdata/outside-module/main.go in a fresh module
// (example.com/app, in a temp dir outside the repository) that requires the
// client with one replace line, as clients/go/README.md tells other projects
// to, with the oldest Go the client supports (1.24.0), and runs it against a
// real Weft server. The module's go.mod and go.sum and that Go come from
// scripts/prepare-go-package-test.sh (set-up: go mod tidy and the toolchain,
// the only downloads); here the go command runs with GOPROXY=off, GOSUMDB=off.
func TestOutsideModule(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	prepared := filepath.Join(root, ".tools", "pkg-test", "go")
	goBinFile, err := os.ReadFile(filepath.Join(prepared, "go-bin"))
	if err != nil {
		msg := "the outside-module test needs its set-up: run `bash scripts/prepare-go-package-test.sh` in " + root + " (" + err.Error() + ")"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPED: " + msg)
	}
	goBin := strings.TrimSpace(string(goBinFile))

	app := t.TempDir()
	for _, f := range []struct{ from, to string }{
		{filepath.Join(prepared, "go.mod"), "go.mod"},
		{filepath.Join(prepared, "go.sum"), "go.sum"},
		{filepath.Join("testdata", "outside-module", "main.go"), "main.go"},
	} {
		data, err := os.ReadFile(f.from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(app, f.to), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// No registry, no checksum database, no toolchain download: everything
	// comes from the module cache the set-up filled and the go.sum it wrote.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOROOT=") { // goBin finds its own
			env = append(env, kv)
		}
	}
	env = append(env, "GOPROXY=off", "GOSUMDB=off", "GOTOOLCHAIN=local", "GOWORK=off", "GOFLAGS=-mod=readonly")
	goCmd := func(timeout time.Duration, args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, goBin, args...)
		cmd.Dir = app
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s\n(if modules or go.sum entries are missing, the client's requirements changed: rerun scripts/prepare-go-package-test.sh)",
				strings.Join(args, " "), err, out)
		}
		return out
	}

	// go mod tidy in the set-up raises the go line when the client needs a newer Go.
	goMod, err := os.ReadFile(filepath.Join(app, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(goMod)
	if goLine == nil || string(goLine[1]) != "1.24.0" || regexp.MustCompile(`(?m)^toolchain `).Match(goMod) {
		t.Fatalf("after go mod tidy the outside module's go.mod wants a newer Go than 1.24.0 (the oldest the client supports):\n%s", goMod)
	}
	if v := string(goCmd(time.Minute, "version")); !strings.HasPrefix(v, "go version go1.24.0 ") {
		t.Fatalf("%s is %q, want the oldest Go the client supports, go1.24.0", goBin, v)
	}

	// The replace points at this checkout's client (the set-up may have run in another).
	clientDir := filepath.Join(root, "clients", "go")
	goCmd(time.Minute, "mod", "edit", "-replace", clientModule+"="+clientDir)
	var mod struct {
		Require []struct{ Path, Version string }
		Replace []struct{ Old, New struct{ Path string } }
	}
	if err := json.Unmarshal(goCmd(time.Minute, "mod", "edit", "-json"), &mod); err != nil {
		t.Fatal(err)
	}
	if len(mod.Replace) != 1 || mod.Replace[0].Old.Path != clientModule {
		t.Fatalf("the outside module needs exactly one replace (%s), has %+v", clientModule, mod.Replace)
	}
	if !slices.ContainsFunc(mod.Require, func(r struct{ Path, Version string }) bool { return r.Path == clientModule }) {
		t.Fatalf("the outside module does not require %s: %+v", clientModule, mod.Require)
	}
	var resolved struct{ Replace struct{ Dir string } }
	if err := json.Unmarshal(goCmd(time.Minute, "list", "-m", "-json", clientModule), &resolved); err != nil {
		t.Fatal(err)
	}
	if resolved.Replace.Dir != clientDir {
		t.Fatalf("%s resolves to %q, want %q", clientModule, resolved.Replace.Dir, clientDir)
	}

	bin := filepath.Join(app, "app")
	goCmd(10*time.Minute, "build", "-o", bin, ".")
	if v := string(goCmd(time.Minute, "version", bin)); !strings.Contains(v, ": go1.24.0") {
		t.Fatalf("the program was built with %q, want go1.24.0", v)
	}

	addr := weftAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-addr", addr, "-secret", testSecret,
		"-vectors", filepath.Join(root, "test", "vectors", "signatures.json"))
	cmd.Dir = app
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("the outside module's program: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	var got struct {
		Vectors        int
		VectorsMatched int
		RunID          string
		State          string
		Events         []string
		Verified       int
		Rejected       int
		Results        map[string]map[string]any
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("its output is not the JSON summary: %v\n%s\nstderr: %s", err, stdout.String(), stderr.String())
	}

	vectors := loadVectors(t)
	if got.Vectors != len(vectors.Vectors) || got.VectorsMatched != got.Vectors {
		t.Errorf("vectors: %d of %d matched, signatures.json has %d\nstderr: %s", got.VectorsMatched, got.Vectors, len(vectors.Vectors), stderr.String())
	}
	if got.State != "WORKFLOW_STATE_COMPLETED" || got.Verified != 2 || got.Rejected != 0 {
		t.Errorf("run %s: state %s, %d verified and %d rejected step requests; want COMPLETED, 2, 0", got.RunID, got.State, got.Verified, got.Rejected)
	}
	wantEvents := []string{"run WORKFLOW_STATE_COMPLETED"}
	if len(got.Events) == 0 || got.Events[len(got.Events)-1] != wantEvents[0] ||
		!slices.Contains(got.Events, "step charge STEP_STATE_COMPLETED") {
		t.Errorf("watched events %q: want the charge step completing and the run's COMPLETED last", got.Events)
	}
	wantResults := map[string]map[string]any{
		"validate": {"step": "validate", "order": "ord_42"},
		"charge":   {"step": "charge", "order": "ord_42", "after": "validate"},
	}
	if !jsonEqual(got.Results, wantResults) {
		t.Errorf("results %v, want %v", got.Results, wantResults)
	}

	// The server agrees, asked by this test's own client.
	client, err := weft.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	run, err := client.GetWorkflow(ctx, got.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if run.GetState() != weftv1.WorkflowState_WORKFLOW_STATE_COMPLETED || run.GetWorkflowId() != "outside-module" {
		t.Errorf("GetWorkflow(%s): %s of %q, want COMPLETED of \"outside-module\"", got.RunID, run.GetState(), run.GetWorkflowId())
	}
	if charge := run.GetResults()["charge"].GetStructValue().AsMap(); charge["after"] != "validate" {
		t.Errorf("GetWorkflow(%s): charge result %v", got.RunID, charge)
	}
}

func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
