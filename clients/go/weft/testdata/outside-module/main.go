// Command app uses the Go client the way another project does: from its own
// module (example.com/app), through the import path
// github.com/weftflow/weft/clients/go, and grpc's codes and status directly
// (as the README's error handling does). scripts/prepare-go-package-test.sh
// makes that module outside the repository; TestOutsideModule builds and runs
// this file in it.
//
// It checks every vector of signatures.json with weft.VerifySignature, serves
// two step handlers that verify each request with weft.VerifyRequest, creates
// a run of them, watches it to the end and prints one JSON line (summary).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	weftv1 "github.com/weftflow/weft/clients/go/gen/weft/v1"
	"github.com/weftflow/weft/clients/go/weft"
)

// summary is what the program prints.
type summary struct {
	Vectors        int                        `json:"vectors"`
	VectorsMatched int                        `json:"vectorsMatched"`
	RunID          string                     `json:"runId"`
	State          string                     `json:"state"`
	Events         []string                   `json:"events"`
	Verified       int64                      `json:"verified"`
	Rejected       int64                      `json:"rejected"`
	Results        map[string]json.RawMessage `json:"results"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "Weft's gRPC address")
	secret := flag.String("secret", "", "the server's signing secret")
	vectors := flag.String("vectors", "", "path of test/vectors/signatures.json")
	flag.Parse()

	var out summary
	var err error
	out.Vectors, out.VectorsMatched, err = checkVectors(*vectors)
	if err != nil {
		log.Fatalf("vectors: %v", err)
	}

	var verified, rejected atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/jobs/", func(w http.ResponseWriter, r *http.Request) {
		body, err := weft.VerifyRequest(r, *secret)
		if err != nil {
			rejected.Add(1)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		req, err := weft.ParseStepRequest(body)
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		verified.Add(1)
		var ctx struct {
			Order string `json:"order"`
		}
		_ = req.DecodeContext(&ctx)
		result := map[string]any{"step": req.StepID, "order": ctx.Order}
		if prev, ok := req.PreviousSteps["validate"]; ok {
			var v map[string]any
			_ = prev.DecodeResult(&v)
			result["after"] = v["step"]
		}
		_ = weft.Success(result).Send(w)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = http.Serve(ln, mux) }()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client, err := weft.Dial(*addr)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	order, _ := structpb.NewStruct(map[string]any{"order": "ord_42"})
	run, err := client.CreateWorkflow(ctx, &weftv1.CreateWorkflowRequest{
		Id:      "outside-module",
		BaseUrl: "http://" + ln.Addr().String(),
		Context: order,
		Steps: []*weftv1.StepDefinition{
			{Id: "validate", Url: "/jobs/validate"},
			{Id: "charge", Url: "/jobs/charge", DependsOn: []string{"validate"}},
		},
	})
	if err != nil {
		// As the README's error handling does: grpc's codes and status, imported directly.
		if status.Code(err) == codes.InvalidArgument {
			for _, v := range weft.FieldViolations(err) {
				log.Printf("%s: %s", v.GetField(), v.GetDescription())
			}
		}
		log.Fatalf("CreateWorkflow: %v", err)
	}
	out.RunID = run.GetId()

	err = client.Watch(ctx, run.GetId(), 0, func(m *weftv1.WatchWorkflowResponse) error {
		e := m.GetEvent()
		if e == nil {
			return nil
		}
		switch t := e.GetTransition().(type) {
		case *weftv1.WorkflowEvent_Run:
			out.Events = append(out.Events, "run "+t.Run.GetToState().String())
		case *weftv1.WorkflowEvent_Step:
			out.Events = append(out.Events, "step "+e.GetStepId()+" "+t.Step.GetToState().String())
		}
		return nil
	})
	if err != nil {
		log.Fatalf("Watch: %v", err)
	}

	done, err := client.GetWorkflow(ctx, run.GetId())
	if err != nil {
		log.Fatalf("GetWorkflow: %v", err)
	}
	out.State = done.GetState().String()
	out.Results = map[string]json.RawMessage{}
	for id, v := range done.GetResults() {
		b, _ := json.Marshal(v.AsInterface())
		out.Results[id] = b
	}
	out.Verified, out.Rejected = verified.Load(), rejected.Load()
	line, _ := json.Marshal(out)
	fmt.Println(string(line))
	if done.GetState() != weftv1.WorkflowState_WORKFLOW_STATE_COMPLETED {
		os.Exit(1)
	}
}

// checkVectors runs weft.VerifySignature over every verification vector and
// counts those whose outcome (valid, or the reason it is not) matches.
func checkVectors(path string) (total, matched int, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	var f struct {
		Vectors []struct {
			Secrets    []string          `json:"secrets"`
			Headers    map[string]string `json:"headers"`
			Body       string            `json:"body"`
			NowSeconds int64             `json:"nowSeconds"`
			Valid      bool              `json:"valid"`
			Reason     string            `json:"reason"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return 0, 0, err
	}
	for _, v := range f.Vectors {
		h := http.Header{}
		for k, val := range v.Headers {
			h.Set(k, val)
		}
		err := weft.VerifySignature(h, []byte(v.Body), v.Secrets, time.Unix(v.NowSeconds, 0))
		var se *weft.SignatureError
		switch {
		case v.Valid && err == nil:
			matched++
		case !v.Valid && errors.As(err, &se) && se.Reason == v.Reason:
			matched++
		default:
			log.Printf("vector %s/%s: got %v", strings.Join(v.Secrets, ","), v.Reason, err)
		}
	}
	return len(f.Vectors), matched, nil
}
