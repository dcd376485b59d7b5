// Command watch creates the batch fan-out / fan-in workflow and watches it to
// completion, printing every transition. Its steps call the handlers of
// examples/handler.
//
//	go run ./examples/watch -addr localhost:8080 -handlers http://127.0.0.1:3000
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	weftv1 "github.com/weftflow/weft/clients/go/gen/weft/v1"

	"github.com/weftflow/weft/clients/go/weft"
)

func main() {
	addr := flag.String("addr", "localhost:8080", "Weft's gRPC address (host:port)")
	handlers := flag.String("handlers", "http://127.0.0.1:3000", "base URL of the step handlers (examples/handler)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	client, err := weft.Dial(*addr)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	batch, _ := structpb.NewStruct(map[string]any{
		"batchId": "batch_123",
		"items":   []any{"item_1", "item_2", "item_3"},
	})
	item := func(n string) *weftv1.StepDefinition {
		return &weftv1.StepDefinition{Id: "process-item-" + n, Url: "/api/jobs/process-item", DependsOn: []string{"prepare"}, Parallel: true}
	}
	run, err := client.CreateWorkflow(ctx, &weftv1.CreateWorkflowRequest{
		Id:      "batch-process",
		BaseUrl: *handlers,
		Steps: []*weftv1.StepDefinition{
			{Id: "prepare", Url: "/api/jobs/prepare-batch"},
			item("1"), item("2"), item("3"),
			{Id: "finalize", Url: "/api/jobs/finalize-batch", DependsOn: []string{"process-item-1", "process-item-2", "process-item-3"}},
		},
		Context: batch,
	})
	if err != nil {
		if status.Code(err) == codes.InvalidArgument {
			for _, v := range weft.FieldViolations(err) {
				log.Printf("%s: %s", v.GetField(), v.GetDescription())
			}
		}
		log.Fatal(err)
	}
	fmt.Printf("created run %s\n", run.GetId())

	err = client.Watch(ctx, run.GetId(), 0, func(m *weftv1.WatchWorkflowResponse) error {
		switch k := m.GetKind().(type) {
		case *weftv1.WatchWorkflowResponse_Snapshot:
			fmt.Printf("snapshot   %s at sequence %d\n", name(k.Snapshot.GetState()), k.Snapshot.GetLastSequence())
		case *weftv1.WatchWorkflowResponse_Event:
			fmt.Println(describe(k.Event))
		}
		return nil
	})
	if err != nil {
		log.Fatalf("watch: %v", err)
	}

	done, err := client.GetWorkflow(ctx, run.GetId())
	if err != nil {
		log.Fatal(err)
	}
	result, _ := json.Marshal(done.GetResults()["finalize"].AsInterface())
	fmt.Printf("run %s %s; finalize: %s\n", done.GetId(), name(done.GetState()), result)
	if done.GetState() != weftv1.WorkflowState_WORKFLOW_STATE_COMPLETED {
		os.Exit(1)
	}
}

// name shortens enum names: WORKFLOW_STATE_RUNNING -> RUNNING.
func name(s fmt.Stringer) string {
	n := s.String()
	for _, p := range []string{"WORKFLOW_STATE_", "STEP_STATE_", "COMPENSATION_STATE_"} {
		n = strings.TrimPrefix(n, p)
	}
	return n
}

func describe(e *weftv1.WorkflowEvent) string {
	at := e.GetTime().AsTime().Local().Format(time.TimeOnly + ".000")
	var s string
	switch t := e.GetTransition().(type) {
	case *weftv1.WorkflowEvent_Run:
		s = fmt.Sprintf("run                    %s -> %s", name(t.Run.GetFromState()), name(t.Run.GetToState()))
	case *weftv1.WorkflowEvent_Step:
		s = fmt.Sprintf("step %-17s %s -> %s", e.GetStepId(), name(t.Step.GetFromState()), name(t.Step.GetToState()))
	case *weftv1.WorkflowEvent_Compensation:
		s = fmt.Sprintf("undo %-17s %s -> %s", e.GetStepId(), name(t.Compensation.GetFromState()), name(t.Compensation.GetToState()))
	}
	if e.GetAttempt() > 0 {
		s += fmt.Sprintf(" (attempt %d)", e.GetAttempt())
	}
	if r := e.GetResult(); r != nil {
		b, _ := json.Marshal(r.AsInterface())
		s += " " + string(b)
	}
	if err := e.GetError(); err != nil {
		s += fmt.Sprintf(" error %s: %s", err.GetReason(), err.GetMessage())
	}
	return fmt.Sprintf("#%-3d %s %s", e.GetSequence(), at, s)
}
