package weft

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// StepRequest is the JSON body Weft POSTs to a step's handler.
type StepRequest struct {
	// The workflow's id as given at creation, e.g. "batch-process".
	WorkflowID string `json:"workflowId"`
	// The run ("wf_…"), the id GetWorkflow takes.
	RunID string `json:"runId"`
	// The workflow's id again (the product document's name for it).
	Workflow string `json:"workflow"`
	StepID   string `json:"stepId"`
	// 1 for the first attempt.
	Attempt int `json:"attempt"`
	// The run's context, a JSON object; see DecodeContext.
	Context json.RawMessage `json:"context"`
	// Every step of the run that has completed, by step id; and, for a step
	// that runs under a join policy tolerating failures, the steps that failed
	// or were cancelled (State and Error set, no Result).
	PreviousSteps map[string]PreviousStep `json:"previousSteps"`
}

// PreviousStep is a settled step as a later step sees it.
type PreviousStep struct {
	// The step's result, as JSON; see DecodeResult. Empty for a failed or cancelled step.
	Result      json.RawMessage `json:"result"`
	CompletedAt time.Time       `json:"completedAt"`
	Attempts    int             `json:"attempts"`
	// "failed" or "cancelled" for a step that did not complete; empty for a completed one.
	State string `json:"state,omitempty"`
	// Why the step did not complete (State set).
	Error *PreviousStepError `json:"error,omitempty"`
}

// PreviousStepError is why a failed or cancelled step did not complete.
type PreviousStepError struct {
	// Machine-readable, e.g. "http_status", "timeout", "not_needed".
	Reason     string `json:"reason"`
	Message    string `json:"message"`
	HTTPStatus int    `json:"httpStatus,omitempty"`
	Attempt    int    `json:"attempt,omitempty"`
	Retryable  bool   `json:"retryable,omitempty"`
}

// Completed reports whether the step completed (it has a result).
func (p PreviousStep) Completed() bool { return p.State == "" }

// ParseStepRequest decodes a step request body (as returned by VerifyRequest).
func ParseStepRequest(body []byte) (*StepRequest, error) {
	var req StepRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	if req.RunID == "" || req.StepID == "" {
		return nil, errors.New("weft: not a step request: runId or stepId missing")
	}
	return &req, nil
}

// DecodeContext decodes the run's context into v (a struct or map pointer).
func (r *StepRequest) DecodeContext(v any) error {
	if len(r.Context) == 0 {
		return nil
	}
	return json.Unmarshal(r.Context, v)
}

// DecodeResult decodes the step's result into v.
func (p PreviousStep) DecodeResult(v any) error {
	if len(p.Result) == 0 {
		return nil
	}
	return json.Unmarshal(p.Result, v)
}

// StepResponse is a handler's answer. Weft completes the step with Result when
// Success is true; otherwise the attempt fails with Error and is retried per
// the step's retry policy unless Retryable is false.
type StepResponse struct {
	Success   bool   `json:"success"`
	Result    any    `json:"result,omitempty"`
	Error     string `json:"error,omitempty"`
	Retryable *bool  `json:"retryable,omitempty"`
}

// Success completes the step with result (any JSON-encodable value).
func Success(result any) StepResponse {
	return StepResponse{Success: true, Result: result}
}

// Failure fails the attempt with message; Weft retries it if the step's retry
// policy allows another attempt.
func Failure(message string) StepResponse {
	return StepResponse{Success: false, Error: message}
}

// PermanentFailure fails the step at once, without further retries.
func PermanentFailure(message string) StepResponse {
	no := false
	return StepResponse{Success: false, Error: message, Retryable: &no}
}

// Send writes the response as a 200 JSON answer.
func (s StepResponse) Send(w http.ResponseWriter) error {
	body, err := json.Marshal(s)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(body)
	return err
}
