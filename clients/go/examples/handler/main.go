// Command handler is a net/http step handler for Weft: the batch fan-out /
// fan-in steps of the product document (prepare-batch, process-item,
// finalize-batch). Every request is verified with weft.VerifyRequest.
//
//	go run ./examples/handler -listen 127.0.0.1:3000 -secret whsec_...
//
// The secret is the one Weft signs with (--signing-secrets); without -secret
// it is read from WEFT_SIGNING_SECRETS.
package main

import (
	"flag"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/weftflow/weft/clients/go/weft"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:3000", "address to listen on")
	secret := flag.String("secret", "", "signing secret(s), comma-separated (default: $WEFT_SIGNING_SECRETS)")
	flag.Parse()
	secrets := weft.ParseSecrets(*secret)

	mux := http.NewServeMux()
	mux.Handle("POST /api/jobs/prepare-batch", step(secrets, prepareBatch))
	mux.Handle("POST /api/jobs/process-item", step(secrets, processItem))
	mux.Handle("POST /api/jobs/finalize-batch", step(secrets, finalizeBatch))
	log.Printf("step handlers listening on http://%s/api/jobs/", *listen)
	log.Fatal(http.ListenAndServe(*listen, mux))
}

// step verifies and decodes a Weft step request, calls fn and sends its answer.
func step(secrets []string, fn func(*weft.StepRequest) weft.StepResponse) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 4<<20)
		body, err := weft.VerifyRequest(r, secrets...)
		if err != nil {
			log.Printf("%s: rejected: %v", r.URL.Path, err)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		req, err := weft.ParseStepRequest(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		log.Printf("run %s step %s attempt %d", req.RunID, req.StepID, req.Attempt)
		if err := fn(req).Send(w); err != nil {
			log.Printf("%s: answering: %v", r.URL.Path, err)
		}
	})
}

func prepareBatch(req *weft.StepRequest) weft.StepResponse {
	var ctx struct {
		BatchID string   `json:"batchId"`
		Items   []string `json:"items"`
	}
	if err := req.DecodeContext(&ctx); err != nil {
		return weft.PermanentFailure("context: " + err.Error())
	}
	return weft.Success(map[string]any{"batchId": ctx.BatchID, "prepared": len(ctx.Items)})
}

func processItem(req *weft.StepRequest) weft.StepResponse {
	time.Sleep(200 * time.Millisecond) // some work
	processed := map[string]int{"process-item-1": 4, "process-item-2": 7, "process-item-3": 2}[req.StepID]
	return weft.Success(map[string]any{"success": true, "processedCount": processed})
}

// finalizeBatch aggregates the results of the process-* steps, as the
// product document's fan-in handler does.
func finalizeBatch(req *weft.StepRequest) weft.StepResponse {
	var total, successful, failed, totalProcessed int
	for id, prev := range req.PreviousSteps {
		if !strings.HasPrefix(id, "process-") {
			continue
		}
		var r struct {
			Success        bool `json:"success"`
			ProcessedCount int  `json:"processedCount"`
		}
		if err := prev.DecodeResult(&r); err != nil {
			return weft.PermanentFailure(id + ": " + err.Error())
		}
		total++
		if r.Success {
			successful++
		} else {
			failed++
		}
		totalProcessed += r.ProcessedCount
	}
	return weft.Success(map[string]int{
		"total":          total,
		"successful":     successful,
		"failed":         failed,
		"totalProcessed": totalProcessed,
	})
}
