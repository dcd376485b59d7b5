package weft_test

import (
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	weftv1 "github.com/weftflow/weft/clients/go/gen/weft/v1"
	"github.com/weftflow/weft/clients/go/weft"
)

func TestLabelsFiltersAndDelete(t *testing.T) {
	ctx := testContext(t)
	client := dial(t)
	h := newHandlers(t)
	h.on("/api/jobs/a", func(_ *weft.StepRequest, _ *http.Request) weft.StepResponse { return weft.Success(nil) })
	tag := time.Now().Format("150405.000000")
	since := time.Now().Add(-time.Minute)
	var ids []string
	for _, n := range []string{"1", "2"} {
		run, err := client.CreateWorkflow(ctx, &weftv1.CreateWorkflowRequest{
			Id:     "go-labels",
			Labels: map[string]string{"tag": tag, "n": n},
			Steps:  []*weftv1.StepDefinition{{Id: "a", Url: h.url("/api/jobs/a")}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if run.GetLabels()["n"] != n {
			t.Fatalf("labels %v", run.GetLabels())
		}
		if err := client.Watch(ctx, run.GetId(), 0, func(*weftv1.WatchWorkflowResponse) error { return nil }); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, run.GetId())
	}
	list := func(req *weftv1.ListWorkflowsRequest) []string {
		res, err := client.Service.ListWorkflows(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, w := range res.GetWorkflows() {
			out = append(out, w.GetId())
		}
		return out
	}
	if got := list(&weftv1.ListWorkflowsRequest{Labels: map[string]string{"tag": tag}}); len(got) != 2 || got[0] != ids[1] || got[1] != ids[0] {
		t.Fatalf("by tag: %v, want %v newest first", got, ids)
	}
	if got := list(&weftv1.ListWorkflowsRequest{Labels: map[string]string{"tag": tag, "n": "1"}, CreatedAfter: timestamppb.New(since)}); len(got) != 1 || got[0] != ids[0] {
		t.Fatalf("by tag, n and time: %v", got)
	}
	if got := list(&weftv1.ListWorkflowsRequest{Labels: map[string]string{"tag": tag}, CreatedBefore: timestamppb.New(since)}); len(got) != 0 {
		t.Fatalf("created before: %v", got)
	}
	if err := client.Delete(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := client.Delete(ctx, ids[0]); status.Code(err) != codes.NotFound {
		t.Fatalf("second delete: %v", err)
	}
	if got := list(&weftv1.ListWorkflowsRequest{Labels: map[string]string{"tag": tag}}); len(got) != 1 || got[0] != ids[1] {
		t.Fatalf("after delete: %v", got)
	}
}
