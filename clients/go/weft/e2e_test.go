package weft_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	weftv1 "github.com/weftflow/weft/clients/go/gen/weft/v1"

	"github.com/weftflow/weft/clients/go/weft"
)

// stepCall is one verified request a handler received.
type stepCall struct {
	path      string
	req       *weft.StepRequest
	header    http.Header
	received  time.Time
	responded time.Time
}

// handlers is a net/http step-handler server that verifies every request
// with weft.VerifyRequest (401 otherwise) and records the calls.
type handlers struct {
	t      *testing.T
	server *httptest.Server
	mu     sync.Mutex
	calls  []*stepCall
	// rejected lists requests that failed verification (path: reason).
	rejected []string
	routes   map[string]func(*weft.StepRequest, *http.Request) weft.StepResponse
}

func newHandlers(t *testing.T) *handlers {
	h := &handlers{t: t, routes: map[string]func(*weft.StepRequest, *http.Request) weft.StepResponse{}}
	h.server = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.server.Close)
	return h
}

func (h *handlers) on(path string, fn func(*weft.StepRequest, *http.Request) weft.StepResponse) {
	h.routes[path] = fn
}

func (h *handlers) url(path string) string { return h.server.URL + path }

func (h *handlers) serve(w http.ResponseWriter, r *http.Request) {
	received := time.Now()
	body, err := weft.VerifyRequest(r, testSecret)
	if err != nil {
		h.mu.Lock()
		h.rejected = append(h.rejected, r.URL.Path+": "+err.Error())
		h.mu.Unlock()
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	req, err := weft.ParseStepRequest(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	route, ok := h.routes[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	call := &stepCall{path: r.URL.Path, req: req, header: r.Header.Clone(), received: received}
	h.mu.Lock()
	h.calls = append(h.calls, call)
	h.mu.Unlock()
	resp := route(req, r)
	h.mu.Lock()
	call.responded = time.Now()
	h.mu.Unlock()
	_ = resp.Send(w)
}

func (h *handlers) callsFor(runID string) []*stepCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*stepCall
	for _, c := range h.calls {
		if c.req.RunID == runID {
			out = append(out, c)
		}
	}
	return out
}

func (h *handlers) rejections() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.rejected)
}

func dial(t *testing.T) *weft.Client {
	t.Helper()
	c, err := weft.Dial(weftAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// The product document's batch fan-out / fan-in: prepare, three parallel
// items, and a finalize step that aggregates previousSteps.
func TestBatchFanOutFanInWatchedToCompletion(t *testing.T) {
	ctx := testContext(t)
	client := dial(t)
	h := newHandlers(t)

	counts := map[string]int{"process-item-1": 4, "process-item-2": 7, "process-item-3": 2}
	h.on("/api/jobs/prepare-batch", func(req *weft.StepRequest, _ *http.Request) weft.StepResponse {
		var c struct {
			Items []string `json:"items"`
		}
		if err := req.DecodeContext(&c); err != nil {
			return weft.PermanentFailure(err.Error())
		}
		return weft.Success(map[string]any{"prepared": len(c.Items)})
	})
	h.on("/api/jobs/process-item", func(req *weft.StepRequest, r *http.Request) weft.StepResponse {
		select { // long enough for the three items to overlap
		case <-time.After(300 * time.Millisecond):
		case <-r.Context().Done():
		}
		return weft.Success(map[string]any{"success": true, "processedCount": counts[req.StepID]})
	})
	// The fan-in handler of the product document, in Go.
	h.on("/api/jobs/finalize-batch", func(req *weft.StepRequest, _ *http.Request) weft.StepResponse {
		type itemResult struct {
			Success        bool `json:"success"`
			ProcessedCount int  `json:"processedCount"`
		}
		stats := map[string]int{"total": 0, "successful": 0, "failed": 0, "totalProcessed": 0}
		for id, prev := range req.PreviousSteps {
			if !strings.HasPrefix(id, "process-") {
				continue
			}
			var r itemResult
			if err := prev.DecodeResult(&r); err != nil {
				return weft.PermanentFailure(err.Error())
			}
			stats["total"]++
			if r.Success {
				stats["successful"]++
			} else {
				stats["failed"]++
			}
			stats["totalProcessed"] += r.ProcessedCount
		}
		return weft.Success(stats)
	})

	batchContext, err := structpb.NewStruct(map[string]any{
		"batchId": "batch_123",
		"items":   []any{"item_1", "item_2", "item_3"},
	})
	if err != nil {
		t.Fatal(err)
	}
	item := func(n string) *weftv1.StepDefinition {
		return &weftv1.StepDefinition{Id: "process-item-" + n, Url: h.url("/api/jobs/process-item"), DependsOn: []string{"prepare"}, Parallel: true}
	}
	run, err := client.CreateWorkflow(ctx, &weftv1.CreateWorkflowRequest{
		Id: "batch-process",
		Steps: []*weftv1.StepDefinition{
			{Id: "prepare", Url: h.url("/api/jobs/prepare-batch")},
			item("1"), item("2"), item("3"),
			{Id: "finalize", Url: h.url("/api/jobs/finalize-batch"), DependsOn: []string{"process-item-1", "process-item-2", "process-item-3"}},
		},
		Context: batchContext,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(run.GetId(), "wf_") || run.GetWorkflowId() != "batch-process" {
		t.Fatalf("created run: id %q, workflow id %q", run.GetId(), run.GetWorkflowId())
	}

	// Watch it to completion.
	var msgs []*weftv1.WatchWorkflowResponse
	if err := client.Watch(ctx, run.GetId(), 0, func(m *weftv1.WatchWorkflowResponse) error {
		msgs = append(msgs, m)
		return nil
	}); err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if len(msgs) == 0 || msgs[0].GetSnapshot() == nil {
		t.Fatalf("first watch message is not a snapshot: %v", msgs)
	}
	snapshot := msgs[0].GetSnapshot()
	if snapshot.GetId() != run.GetId() {
		t.Fatalf("snapshot of %q, want %q", snapshot.GetId(), run.GetId())
	}
	var events []*weftv1.WorkflowEvent
	for _, m := range msgs[1:] {
		switch {
		case m.GetSnapshot() != nil:
			t.Fatal("a second snapshot")
		case m.GetEvent() != nil:
			events = append(events, m.GetEvent())
		}
	}
	if len(events) == 0 {
		t.Fatal("no events after the snapshot")
	}
	for i, e := range events {
		if want := snapshot.GetLastSequence() + int64(i) + 1; e.GetSequence() != want {
			t.Fatalf("event %d has sequence %d, want %d (gap-free after snapshot at %d)", i, e.GetSequence(), want, snapshot.GetLastSequence())
		}
		if e.GetRunId() != run.GetId() {
			t.Fatalf("event of run %q", e.GetRunId())
		}
	}
	last := events[len(events)-1]
	if last.GetRun().GetToState() != weftv1.WorkflowState_WORKFLOW_STATE_COMPLETED || last.GetStepId() != "" {
		t.Fatalf("last event is not the run's COMPLETED: %v", last)
	}
	if msgs[len(msgs)-1].GetEvent() != last {
		t.Fatal("Watch went on after the terminal event")
	}
	// Every step's completion was either in the snapshot or watched.
	completed := slices.Clone(snapshot.GetCompletedSteps())
	for _, e := range events {
		if e.GetStep().GetToState() == weftv1.StepState_STEP_STATE_COMPLETED {
			completed = append(completed, e.GetStepId())
		}
	}
	slices.Sort(completed)
	if want := []string{"finalize", "prepare", "process-item-1", "process-item-2", "process-item-3"}; !slices.Equal(completed, want) {
		t.Fatalf("completed steps seen %v, want %v", completed, want)
	}

	// The final status.
	done, err := client.GetWorkflow(ctx, run.GetId())
	if err != nil {
		t.Fatal(err)
	}
	if done.GetState() != weftv1.WorkflowState_WORKFLOW_STATE_COMPLETED {
		t.Fatalf("state %v", done.GetState())
	}
	if done.GetLastSequence() != last.GetSequence() {
		t.Fatalf("last_sequence %d, last watched event %d", done.GetLastSequence(), last.GetSequence())
	}
	wantStats := map[string]any{"total": 3.0, "successful": 3.0, "failed": 0.0, "totalProcessed": 13.0}
	if got := done.GetResults()["finalize"].AsInterface(); !reflect.DeepEqual(got, wantStats) {
		t.Fatalf("finalize result %v, want %v", got, wantStats)
	}
	for _, s := range done.GetSteps() {
		if s.GetState() != weftv1.StepState_STEP_STATE_COMPLETED || s.GetAttempts() != 1 {
			t.Errorf("step %s: %v after %d attempts", s.GetId(), s.GetState(), s.GetAttempts())
		}
	}

	// What the handlers saw: every request verified, signed headers, bodies.
	if r := h.rejections(); len(r) > 0 {
		t.Fatalf("requests failed verification: %v", r)
	}
	calls := h.callsFor(run.GetId())
	if len(calls) != 5 {
		t.Fatalf("%d handler calls, want 5", len(calls))
	}
	var items []*stepCall
	var fin *stepCall
	for _, c := range calls {
		req := c.req
		if req.WorkflowID != "batch-process" || req.Workflow != "batch-process" || req.Attempt != 1 {
			t.Errorf("%s: workflowId %q, workflow %q, attempt %d", req.StepID, req.WorkflowID, req.Workflow, req.Attempt)
		}
		if got, want := c.header.Get("Idempotency-Key"), run.GetId()+":"+req.StepID; got != want {
			t.Errorf("Idempotency-Key %q, want %q", got, want)
		}
		if c.header.Get("Weft-Run-Id") != run.GetId() || c.header.Get("Weft-Step-Id") != req.StepID || c.header.Get("Weft-Attempt") != "1" {
			t.Errorf("%s: Weft-* headers %v", req.StepID, c.header)
		}
		if _, err := time.Parse(time.RFC3339, c.header.Get("Weft-Deadline")); err != nil {
			t.Errorf("%s: Weft-Deadline: %v", req.StepID, err)
		}
		var bc struct {
			BatchID string `json:"batchId"`
		}
		if err := req.DecodeContext(&bc); err != nil || bc.BatchID != "batch_123" {
			t.Errorf("%s: context %s (%v)", req.StepID, req.Context, err)
		}
		switch c.path {
		case "/api/jobs/process-item":
			items = append(items, c)
		case "/api/jobs/finalize-batch":
			fin = c
		}
	}
	if len(items) != 3 || fin == nil {
		t.Fatalf("%d item calls, finalize called: %v", len(items), fin != nil)
	}
	// Fan-out: every item request arrived before any item answered.
	firstAnswer := items[0].responded
	for _, c := range items {
		if c.responded.Before(firstAnswer) {
			firstAnswer = c.responded
		}
	}
	for _, c := range items {
		if !c.received.Before(firstAnswer) {
			t.Errorf("%s arrived after another item answered: the items did not run in parallel", c.req.StepID)
		}
	}
	// Fan-in: finalize saw every earlier step's result.
	keys := make([]string, 0, len(fin.req.PreviousSteps))
	for k := range fin.req.PreviousSteps {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"prepare", "process-item-1", "process-item-2", "process-item-3"}; !slices.Equal(keys, want) {
		t.Fatalf("finalize previousSteps %v, want %v", keys, want)
	}
	p2 := fin.req.PreviousSteps["process-item-2"]
	var r2 struct {
		Success        bool `json:"success"`
		ProcessedCount int  `json:"processedCount"`
	}
	if err := p2.DecodeResult(&r2); err != nil || !r2.Success || r2.ProcessedCount != 7 || p2.Attempts != 1 || p2.CompletedAt.IsZero() {
		t.Errorf("previousSteps[process-item-2] = %+v (%s, %v)", p2, p2.Result, err)
	}

	// Resuming after sequence N delivers exactly the events after N, no snapshot.
	const after = 3
	var resumed []int64
	if err := client.Watch(ctx, run.GetId(), after, func(m *weftv1.WatchWorkflowResponse) error {
		if m.GetSnapshot() != nil {
			t.Error("snapshot on a resumed watch")
		}
		if e := m.GetEvent(); e != nil {
			resumed = append(resumed, e.GetSequence())
		}
		return nil
	}); err != nil {
		t.Fatalf("resumed Watch: %v", err)
	}
	if len(resumed) != int(done.GetLastSequence())-after || resumed[0] != after+1 || resumed[len(resumed)-1] != done.GetLastSequence() {
		t.Fatalf("resumed after %d: sequences %v, last %d", after, resumed, done.GetLastSequence())
	}

	// Watching a finished run: its snapshot, and Watch returns.
	var again []*weftv1.WatchWorkflowResponse
	if err := client.Watch(ctx, run.GetId(), 0, func(m *weftv1.WatchWorkflowResponse) error {
		again = append(again, m)
		return nil
	}); err != nil || len(again) != 1 || again[0].GetSnapshot().GetState() != weftv1.WorkflowState_WORKFLOW_STATE_COMPLETED {
		t.Fatalf("watch of a finished run: %v, %v", again, err)
	}
}

// The product document's fan-in with one failed item, under join all_settled:
// the fan-in runs, sees the failure in PreviousSteps, and the run completes.
func TestAllSettledFanInToleratesAFailedItem(t *testing.T) {
	ctx := testContext(t)
	client := dial(t)
	h := newHandlers(t)
	h.on("/joins/item", func(req *weft.StepRequest, _ *http.Request) weft.StepResponse {
		if req.StepID == "item-2" {
			return weft.PermanentFailure("item is corrupt")
		}
		return weft.Success(map[string]any{"success": true})
	})
	var seen weft.PreviousStep
	h.on("/joins/finalize", func(req *weft.StepRequest, _ *http.Request) weft.StepResponse {
		stats := map[string]int{"successful": 0, "failed": 0}
		for id, prev := range req.PreviousSteps {
			if !strings.HasPrefix(id, "item-") {
				continue
			}
			var r struct {
				Success bool `json:"success"`
			}
			if err := prev.DecodeResult(&r); err != nil {
				return weft.PermanentFailure(err.Error())
			}
			if r.Success {
				stats["successful"]++
			} else {
				stats["failed"]++
			}
			if id == "item-2" {
				seen = prev
			}
		}
		return weft.Success(stats)
	})
	item := func(n string) *weftv1.StepDefinition {
		return &weftv1.StepDefinition{Id: "item-" + n, Url: h.url("/joins/item"), Parallel: true}
	}
	run, err := client.CreateWorkflow(ctx, &weftv1.CreateWorkflowRequest{
		Id: "go-joins",
		Steps: []*weftv1.StepDefinition{
			item("1"), item("2"), item("3"),
			{
				Id: "finalize", Url: h.url("/joins/finalize"), DependsOn: []string{"item-1", "item-2", "item-3"},
				Join: &weftv1.JoinPolicy{Policy: &weftv1.JoinPolicy_AllSettled{AllSettled: &emptypb.Empty{}}},
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Watch(ctx, run.GetId(), 0, func(*weftv1.WatchWorkflowResponse) error { return nil }); err != nil {
		t.Fatalf("Watch: %v", err)
	}
	done, err := client.GetWorkflow(ctx, run.GetId())
	if err != nil {
		t.Fatal(err)
	}
	if done.GetState() != weftv1.WorkflowState_WORKFLOW_STATE_COMPLETED || len(done.GetFailedSteps()) != 1 || done.GetFailedSteps()[0] != "item-2" {
		t.Fatalf("run %v, failed steps %v", done.GetState(), done.GetFailedSteps())
	}
	stats := done.GetResults()["finalize"].GetStructValue().AsMap()
	if stats["successful"] != float64(2) || stats["failed"] != float64(1) {
		t.Fatalf("finalize counted %v", stats)
	}
	if seen.Completed() || seen.State != "failed" || seen.Error == nil || seen.Error.Reason != "handler_error" || len(seen.Result) != 0 {
		t.Fatalf("finalize saw item-2 as %+v (error %+v)", seen, seen.Error)
	}
	if got := done.GetSteps()[3].GetDefinition().GetJoin().GetAllSettled(); got == nil {
		t.Fatal("the step definition does not show join all_settled")
	}
}

func TestInvalidWorkflowFieldViolations(t *testing.T) {
	ctx := testContext(t)
	client := dial(t)
	_, err := client.CreateWorkflow(ctx, &weftv1.CreateWorkflowRequest{
		Id: "go-invalid",
		Steps: []*weftv1.StepDefinition{
			{Id: "validate", Url: "http://127.0.0.1:9/validate"},
			{Id: "fulfill", Url: "http://127.0.0.1:9/fulfill", DependsOn: []string{"validate"}},
			{Id: "notify", Url: "http://127.0.0.1:9/notify", DependsOn: []string{"charge"}},
		},
	})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("want InvalidArgument, got %v", err)
	}
	violations := weft.FieldViolations(err)
	if len(violations) != 1 {
		t.Fatalf("field violations %v (error %v)", violations, err)
	}
	if v := violations[0]; v.GetField() != "steps[2].depends_on[0]" || v.GetDescription() != `unknown step "charge"` {
		t.Fatalf("violation %q: %q", v.GetField(), v.GetDescription())
	}
	if !strings.Contains(status.Convert(err).Message(), `steps[2].depends_on[0]: unknown step "charge"`) {
		t.Errorf("message %q", status.Convert(err).Message())
	}
	// Bad input never creates a run.
	list, err := client.Service.ListWorkflows(ctx, &weftv1.ListWorkflowsRequest{WorkflowId: "go-invalid"})
	if err != nil || len(list.GetWorkflows()) != 0 {
		t.Fatalf("runs of go-invalid: %v (%v)", list.GetWorkflows(), err)
	}
	if weft.FieldViolations(nil) != nil || weft.FieldViolations(errors.New("plain")) != nil {
		t.Error("FieldViolations of a non-status error")
	}
}

func TestCancelRunningWorkflow(t *testing.T) {
	ctx := testContext(t)
	client := dial(t)
	h := newHandlers(t)
	started := make(chan struct{}, 1)
	h.on("/api/jobs/slow", func(_ *weft.StepRequest, r *http.Request) weft.StepResponse {
		started <- struct{}{}
		select {
		case <-r.Context().Done(): // Weft aborts the call on cancel
		case <-time.After(30 * time.Second):
		}
		return weft.Success(nil)
	})
	run, err := client.CreateWorkflow(ctx, &weftv1.CreateWorkflowRequest{
		Id: "go-cancel",
		Steps: []*weftv1.StepDefinition{
			{Id: "slow", Url: h.url("/api/jobs/slow")},
			{Id: "after", Url: h.url("/api/jobs/slow"), DependsOn: []string{"slow"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("the step was never called")
	}
	if _, err := client.Cancel(ctx, run.GetId(), "test cancel"); err != nil {
		t.Fatal(err)
	}
	var final weftv1.WorkflowState
	if err := client.Watch(ctx, run.GetId(), 0, func(m *weftv1.WatchWorkflowResponse) error {
		if s := m.GetSnapshot(); s != nil {
			final = s.GetState()
		}
		if e := m.GetEvent().GetRun(); e != nil {
			final = e.GetToState()
		}
		return nil
	}); err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if final != weftv1.WorkflowState_WORKFLOW_STATE_CANCELLED {
		t.Fatalf("final state %v", final)
	}
	done, err := client.GetWorkflow(ctx, run.GetId())
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]weftv1.StepState{}
	for _, s := range done.GetSteps() {
		states[s.GetId()] = s.GetState()
	}
	if states["slow"] != weftv1.StepState_STEP_STATE_CANCELLED || states["after"] != weftv1.StepState_STEP_STATE_SKIPPED {
		t.Errorf("step states %v", states)
	}
	_, err = client.Cancel(ctx, run.GetId(), "again")
	if status.Code(err) != codes.FailedPrecondition || weft.ErrorReason(err) != "RUN_FINISHED" {
		t.Errorf("second cancel: %v (reason %q)", err, weft.ErrorReason(err))
	}
	_, err = client.GetWorkflow(ctx, "wf_01ARZ3NDEKTSV4RRFFQ69G5FAV")
	if status.Code(err) != codes.NotFound || weft.ErrorReason(err) != "RUN_NOT_FOUND" {
		t.Errorf("unknown run: %v (reason %q)", err, weft.ErrorReason(err))
	}
	if r := h.rejections(); len(r) > 0 {
		t.Fatalf("requests failed verification: %v", r)
	}
}

func TestPauseHoldsTheNextStepUntilResume(t *testing.T) {
	ctx := testContext(t)
	client := dial(t)
	h := newHandlers(t)
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	h.on("/api/jobs/held", func(_ *weft.StepRequest, r *http.Request) weft.StepResponse {
		started <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return weft.Success("held")
	})
	h.on("/api/jobs/next", func(_ *weft.StepRequest, _ *http.Request) weft.StepResponse { return weft.Success("next") })
	run, err := client.CreateWorkflow(ctx, &weftv1.CreateWorkflowRequest{
		Id: "go-pause",
		Steps: []*weftv1.StepDefinition{
			{Id: "held", Url: h.url("/api/jobs/held")},
			{Id: "next", Url: h.url("/api/jobs/next"), DependsOn: []string{"held"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("the step was never called")
	}
	paused, err := client.Pause(ctx, run.GetId(), "from go", true)
	if err != nil {
		t.Fatal(err)
	}
	if paused.GetState() != weftv1.WorkflowState_WORKFLOW_STATE_PAUSED || paused.GetPauseReason() != "from go" || !paused.GetDeadlineHeld() {
		t.Fatalf("paused: %v %q %v", paused.GetState(), paused.GetPauseReason(), paused.GetDeadlineHeld())
	}
	if _, err := client.Resume(ctx, "wf_01ARZ3NDEKTSV4RRFFQ69G5FAV"); status.Code(err) != codes.NotFound {
		t.Errorf("resume of an unknown run: %v", err)
	}
	close(release)
	// The call in flight is recorded; the next step does not start while paused.
	for {
		w, err := client.GetWorkflow(ctx, run.GetId())
		if err != nil {
			t.Fatal(err)
		}
		if w.GetSteps()[0].GetState() == weftv1.StepState_STEP_STATE_COMPLETED {
			if w.GetState() != weftv1.WorkflowState_WORKFLOW_STATE_PAUSED || w.GetSteps()[1].GetState() != weftv1.StepState_STEP_STATE_PENDING {
				t.Fatalf("after the call in flight: run %v, next %v", w.GetState(), w.GetSteps()[1].GetState())
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the call in flight was never recorded")
		case <-time.After(20 * time.Millisecond):
		}
	}
	if _, err := client.Resume(ctx, run.GetId()); err != nil {
		t.Fatal(err)
	}
	_, err = client.Resume(ctx, run.GetId())
	if status.Code(err) != codes.FailedPrecondition || weft.ErrorReason(err) != "RUN_NOT_PAUSED" {
		t.Errorf("second resume: %v (reason %q)", err, weft.ErrorReason(err))
	}
	var final weftv1.WorkflowState
	if err := client.Watch(ctx, run.GetId(), 0, func(m *weftv1.WatchWorkflowResponse) error {
		if s := m.GetSnapshot(); s != nil {
			final = s.GetState()
		}
		if e := m.GetEvent().GetRun(); e != nil {
			final = e.GetToState()
		}
		return nil
	}); err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if final != weftv1.WorkflowState_WORKFLOW_STATE_COMPLETED {
		t.Fatalf("final state %v", final)
	}
}

// A request that Weft did not sign is refused by the handlers.
func TestHandlersRejectForgedRequests(t *testing.T) {
	h := newHandlers(t)
	h.on("/api/jobs/x", func(*weft.StepRequest, *http.Request) weft.StepResponse { return weft.Success(nil) })
	body := `{"workflowId":"w","runId":"wf_x","workflow":"w","stepId":"x","attempt":1,"context":{},"previousSteps":{}}`
	for name, secret := range map[string]string{"wrong secret": "whsec_+SMAsU3vD4zms1tBqap3SaheG0YSDKp+ajhzM0bK128=", "right secret": testSecret} {
		req, _ := http.NewRequest(http.MethodPost, h.url("/api/jobs/x"), strings.NewReader(body))
		weft.SignHeaders(req.Header, "msg_forged", time.Now().Unix(), []byte(body), []string{secret})
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		want := http.StatusUnauthorized
		if name == "right secret" {
			want = http.StatusOK
		}
		if res.StatusCode != want {
			t.Errorf("%s: status %d, want %d", name, res.StatusCode, want)
		}
	}
	if r := h.rejections(); len(r) != 1 || !strings.Contains(r[0], "bad_signature") {
		t.Errorf("rejections %v", r)
	}
}

// A server with API keys: the key goes with every call (the watch stream
// too), scopes are enforced, and WEFT_API_KEY is used without an option.
func TestAPIKeys(t *testing.T) {
	ctx := testContext(t)
	addr := keyedAddr(t)
	t.Setenv(weft.APIKeyEnv, "")
	h := newHandlers(t)
	h.on("/keyed/a", func(*weft.StepRequest, *http.Request) weft.StepResponse {
		return weft.Success(map[string]any{"ok": true})
	})
	dialKey := func(opts ...grpc.DialOption) *weft.Client {
		c, err := weft.Dial(addr, opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	writer := dialKey(weft.WithAPIKey(testWriteKey))
	run, err := writer.CreateWorkflow(ctx, &weftv1.CreateWorkflowRequest{
		Id:    "go-keyed",
		Steps: []*weftv1.StepDefinition{{Id: "a", Url: h.url("/keyed/a")}},
	})
	if err != nil {
		t.Fatalf("create with the write key: %v", err)
	}
	var sawSnapshot bool
	if err := writer.Watch(ctx, run.GetId(), 0, func(m *weftv1.WatchWorkflowResponse) error {
		if m.GetSnapshot() != nil {
			sawSnapshot = true
		}
		return nil
	}); err != nil {
		t.Fatalf("watch with the write key: %v", err)
	}
	if !sawSnapshot {
		t.Fatal("the watch sent no snapshot")
	}

	reader := dialKey(weft.WithAPIKey(testReadKey))
	got, err := reader.GetWorkflow(ctx, run.GetId())
	if err != nil || got.GetState() != weftv1.WorkflowState_WORKFLOW_STATE_COMPLETED {
		t.Fatalf("get with the read key: %v, %v", got.GetState(), err)
	}
	if err := reader.Watch(ctx, run.GetId(), 0, func(*weftv1.WatchWorkflowResponse) error { return nil }); err != nil {
		t.Fatalf("watch with the read key: %v", err)
	}
	_, err = reader.Cancel(ctx, run.GetId(), "not allowed")
	if status.Code(err) != codes.PermissionDenied || weft.ErrorReason(err) != "API_KEY_SCOPE" {
		t.Fatalf("cancel with the read key: want PermissionDenied/API_KEY_SCOPE, got %v", err)
	}
	if strings.Contains(err.Error(), testReadKey) {
		t.Fatal("the error contains the key")
	}

	anonymous := dialKey()
	_, err = anonymous.GetWorkflow(ctx, run.GetId())
	if status.Code(err) != codes.Unauthenticated || weft.ErrorReason(err) != "API_KEY_MISSING" {
		t.Fatalf("get without a key: want Unauthenticated/API_KEY_MISSING, got %v", err)
	}
	err = anonymous.Watch(ctx, run.GetId(), 0, func(*weftv1.WatchWorkflowResponse) error { return nil })
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("watch without a key: want Unauthenticated, got %v", err)
	}
	_, err = dialKey(weft.WithAPIKey("wrong-key-0123456789")).GetWorkflow(ctx, run.GetId())
	if status.Code(err) != codes.Unauthenticated || weft.ErrorReason(err) != "API_KEY_INVALID" {
		t.Fatalf("get with a wrong key: want Unauthenticated/API_KEY_INVALID, got %v", err)
	}

	t.Setenv(weft.APIKeyEnv, testReadKey)
	if _, err := dialKey().GetWorkflow(ctx, run.GetId()); err != nil {
		t.Fatalf("get with WEFT_API_KEY: %v", err)
	}
}

// Dial refuses to send a key in cleartext to a non-loopback target unless
// told to. (grpc.NewClient connects lazily and no call is made: nothing is sent.)
func TestAPIKeyCleartextOnlyToLoopback(t *testing.T) {
	t.Setenv(weft.APIKeyEnv, "")
	const remote = "192.0.2.10:8080" // TEST-NET-1; never contacted
	if _, err := weft.Dial(remote, weft.WithAPIKey(testWriteKey)); err == nil || !strings.Contains(err.Error(), "WithInsecureAPIKey") {
		t.Fatalf("want a refusal naming WithInsecureAPIKey, got %v", err)
	} else if strings.Contains(err.Error(), testWriteKey) {
		t.Fatal("the error contains the key")
	}
	c, err := weft.Dial(remote, weft.WithAPIKey(testWriteKey), weft.WithInsecureAPIKey())
	if err != nil {
		t.Fatalf("with WithInsecureAPIKey: %v", err)
	}
	c.Close()
	for _, target := range []string{"127.0.0.1:8080", "localhost:8080", "[::1]:8080", "dns:///localhost:8080", "http://127.0.0.2:9"} {
		c, err := weft.Dial(target, weft.WithAPIKey(testWriteKey))
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		c.Close()
	}
	if _, err := weft.Dial("127.0.0.1:8080", weft.WithAPIKey("secret-part two-three")); err == nil || strings.Contains(err.Error(), "secret-part") {
		t.Fatalf("a malformed key: want an error that does not quote it, got %v", err)
	}
}

// A run that failed at its second step is redriven once the handler is fixed:
// the first step is not called again, the second runs with attempt 2.
func TestRedriveAfterTheHandlerIsFixed(t *testing.T) {
	ctx := testContext(t)
	client := dial(t)
	h := newHandlers(t)
	var mu sync.Mutex
	fixed := false
	h.on("/api/jobs/first", func(*weft.StepRequest, *http.Request) weft.StepResponse { return weft.Success("one") })
	h.on("/api/jobs/second", func(*weft.StepRequest, *http.Request) weft.StepResponse {
		mu.Lock()
		defer mu.Unlock()
		if !fixed {
			return weft.PermanentFailure("bug")
		}
		return weft.Success("two")
	})
	run, err := client.CreateWorkflow(ctx, &weftv1.CreateWorkflowRequest{
		Id: "go-redrive",
		Steps: []*weftv1.StepDefinition{
			{Id: "first", Url: h.url("/api/jobs/first")},
			{Id: "second", Url: h.url("/api/jobs/second"), DependsOn: []string{"first"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	final := func() weftv1.WorkflowState {
		var state weftv1.WorkflowState
		if err := client.Watch(ctx, run.GetId(), 0, func(m *weftv1.WatchWorkflowResponse) error {
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
	if s := final(); s != weftv1.WorkflowState_WORKFLOW_STATE_FAILED {
		t.Fatalf("first outcome %v", s)
	}
	mu.Lock()
	fixed = true
	mu.Unlock()
	redriven, err := client.Redrive(ctx, run.GetId(), time.Hour)
	if err != nil {
		t.Fatalf("Redrive: %v", err)
	}
	if redriven.GetState() != weftv1.WorkflowState_WORKFLOW_STATE_RUNNING {
		t.Fatalf("redriven state %v", redriven.GetState())
	}
	if s := final(); s != weftv1.WorkflowState_WORKFLOW_STATE_COMPLETED {
		t.Fatalf("outcome after the redrive %v", s)
	}
	counts := map[string][]int{}
	for _, c := range h.callsFor(run.GetId()) {
		counts[c.path] = append(counts[c.path], c.req.Attempt)
	}
	if !reflect.DeepEqual(counts, map[string][]int{"/api/jobs/first": {1}, "/api/jobs/second": {1, 2}}) {
		t.Errorf("calls (path: attempts) %v", counts)
	}
	_, err = client.Redrive(ctx, run.GetId(), 0)
	if status.Code(err) != codes.FailedPrecondition || weft.ErrorReason(err) != "RUN_COMPLETED" {
		t.Errorf("second redrive: %v (reason %q)", err, weft.ErrorReason(err))
	}
	_, err = client.RedeliverWebhook(ctx, run.GetId())
	if status.Code(err) != codes.FailedPrecondition || weft.ErrorReason(err) != "NO_WEBHOOK" {
		t.Errorf("redeliver without a webhook: %v (reason %q)", err, weft.ErrorReason(err))
	}
}
