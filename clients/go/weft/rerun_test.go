package weft_test

import (
	"net/http"
	"reflect"
	"sort"
	"testing"

	weftv1 "github.com/weftflow/weft/clients/go/gen/weft/v1"
	"github.com/weftflow/weft/clients/go/weft"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Rerun against a real server: the new run links to the original, calls only
// the step named and what follows it, and copies the rest.
func TestRerunFromAStep(t *testing.T) {
	ctx := testContext(t)
	client := dial(t)
	h := newHandlers(t)
	for _, p := range []string{"/api/jobs/one", "/api/jobs/two", "/api/jobs/three"} {
		h.on(p, func(r *weft.StepRequest, _ *http.Request) weft.StepResponse {
			return weft.Success(r.StepID + "@" + r.RunID)
		})
	}
	run, err := client.CreateWorkflow(ctx, &weftv1.CreateWorkflowRequest{
		Id: "go-rerun",
		Steps: []*weftv1.StepDefinition{
			{Id: "one", Url: h.url("/api/jobs/one")},
			{Id: "two", Url: h.url("/api/jobs/two"), DependsOn: []string{"one"}},
			{Id: "three", Url: h.url("/api/jobs/three"), DependsOn: []string{"two"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	finalState := func(id string) weftv1.WorkflowState {
		var state weftv1.WorkflowState
		if err := client.Watch(ctx, id, 0, func(m *weftv1.WatchWorkflowResponse) error {
			if s := m.GetSnapshot(); s != nil {
				state = s.GetState()
			}
			if e := m.GetEvent().GetRun(); e != nil {
				state = e.GetToState()
			}
			return nil
		}); err != nil {
			t.Fatalf("Watch: %v", err)
		}
		return state
	}
	if s := finalState(run.GetId()); s != weftv1.WorkflowState_WORKFLOW_STATE_COMPLETED {
		t.Fatalf("original outcome %v", s)
	}
	rerun, err := client.Rerun(ctx, run.GetId(), []string{"two"})
	if err != nil {
		t.Fatalf("Rerun: %v", err)
	}
	if rerun.GetId() == run.GetId() || rerun.GetRerunOf() != run.GetId() {
		t.Fatalf("rerun %q rerun_of %q (original %q)", rerun.GetId(), rerun.GetRerunOf(), run.GetId())
	}
	if s := finalState(rerun.GetId()); s != weftv1.WorkflowState_WORKFLOW_STATE_COMPLETED {
		t.Fatalf("rerun outcome %v", s)
	}
	var called []string
	for _, c := range h.callsFor(rerun.GetId()) {
		called = append(called, c.path)
	}
	sort.Strings(called)
	if !reflect.DeepEqual(called, []string{"/api/jobs/three", "/api/jobs/two"}) {
		t.Errorf("calls of the rerun %v", called)
	}
	done, err := client.GetWorkflow(ctx, rerun.GetId())
	if err != nil {
		t.Fatal(err)
	}
	var copied []string
	for _, s := range done.GetSteps() {
		copied = append(copied, s.GetCopiedFrom())
	}
	if !reflect.DeepEqual(copied, []string{run.GetId(), "", ""}) {
		t.Errorf("copied_from %v", copied)
	}
	if got := done.GetResults()["one"].GetStringValue(); got != "one@"+run.GetId() {
		t.Errorf("copied result %q", got)
	}
	_, err = client.Rerun(ctx, run.GetId(), []string{"four"})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("unknown step: %v", err)
	}
	if fv := weft.FieldViolations(err); len(fv) != 1 || fv[0].GetField() != "from_steps[0]" {
		t.Errorf("violations %v", fv)
	}
}
