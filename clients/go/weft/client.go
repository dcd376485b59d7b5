// Package weft is a Go client for Weft, the workflow orchestration service:
// a gRPC client (Dial, CreateWorkflow, GetWorkflow, Cancel, Watch, and the
// generated weftv1.WorkflowServiceClient for everything else), and helpers
// for step handlers written with net/http (VerifyRequest, StepRequest,
// StepResponse).
package weft

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	weftv1 "github.com/weftflow/weft/clients/go/gen/weft/v1"
)

// Client talks to one Weft server.
type Client struct {
	// Service is the generated client, for every RPC and option.
	Service weftv1.WorkflowServiceClient
	// Conn is the underlying connection (shared by Service).
	Conn *grpc.ClientConn
}

// Dial creates a client for addr ("host:port"). With a leading "https://"
// the connection uses TLS, verified against the system's root CAs; with
// "http://" or no scheme it is cleartext HTTP/2 (Weft's default). Options
// come after those defaults and win, e.g. for a private CA or mutual TLS:
//
//	weft.Dial("weft.internal:8443", grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})))
//
// Like grpc.NewClient, it connects lazily, on the first call.
//
// With WithAPIKey (or WEFT_API_KEY set), every call carries the key as a
// bearer token; over cleartext, only to a loopback address unless
// WithInsecureAPIKey is given.
func Dial(addr string, opts ...grpc.DialOption) (*Client, error) {
	creds := insecure.NewCredentials()
	if rest, ok := strings.CutPrefix(addr, "https://"); ok {
		addr, creds = rest, credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
	}
	addr = strings.TrimPrefix(addr, "http://")
	opts, withKey, err := apiKeyDialOptions(addr, opts)
	if err != nil {
		return nil, err
	}
	all := append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, opts...)
	conn, err := grpc.NewClient(addr, all...)
	if err != nil {
		if withKey && strings.Contains(err.Error(), "transport level security") {
			return nil, fmt.Errorf("%w (weft: an API key is sent in cleartext only to a loopback address: use TLS, or WithInsecureAPIKey() to send it anyway)", err)
		}
		return nil, err
	}
	return &Client{Service: weftv1.NewWorkflowServiceClient(conn), Conn: conn}, nil
}

// Close closes the connection.
func (c *Client) Close() error {
	return c.Conn.Close()
}

// CreateWorkflow validates and starts a run and returns it. An invalid
// workflow gives codes.InvalidArgument (see FieldViolations). For the
// response's deduplicated flag, call c.Service.CreateWorkflow.
func (c *Client) CreateWorkflow(ctx context.Context, req *weftv1.CreateWorkflowRequest, opts ...grpc.CallOption) (*weftv1.Workflow, error) {
	res, err := c.Service.CreateWorkflow(ctx, req, opts...)
	if err != nil {
		return nil, err
	}
	return res.GetWorkflow(), nil
}

// GetWorkflow returns a run's status (codes.NotFound for an unknown id).
func (c *Client) GetWorkflow(ctx context.Context, runID string, opts ...grpc.CallOption) (*weftv1.Workflow, error) {
	res, err := c.Service.GetWorkflow(ctx, &weftv1.GetWorkflowRequest{Id: runID}, opts...)
	if err != nil {
		return nil, err
	}
	return res.GetWorkflow(), nil
}

// Redrive continues a failed (or timed out) or cancelled run in place:
// completed steps keep their results, the others run again
// (codes.FailedPrecondition if the run has not finished, completed, or is a
// saga whose compensations have run). The deadline moves by extension; 0
// means the run's timeout.
func (c *Client) Redrive(ctx context.Context, runID string, extension time.Duration, opts ...grpc.CallOption) (*weftv1.Workflow, error) {
	req := &weftv1.RedriveWorkflowRequest{Id: runID}
	if extension > 0 {
		req.DeadlineExtension = durationpb.New(extension)
	}
	res, err := c.Service.RedriveWorkflow(ctx, req, opts...)
	if err != nil {
		return nil, err
	}
	return res.GetWorkflow(), nil
}

// Rerun starts a NEW run of a finished run's workflow (its RerunOf is runID)
// that runs fromSteps and every step downstream of them again; the other
// steps that completed are copied with their results (CopiedFrom), not
// called. The new run keeps the original's context and labels
// (codes.FailedPrecondition if the run has not finished, codes.InvalidArgument
// for a step it does not have). For a new context, labels, a request id or the
// response's deduplicated flag, call c.Service.RerunWorkflow.
func (c *Client) Rerun(ctx context.Context, runID string, fromSteps []string, opts ...grpc.CallOption) (*weftv1.Workflow, error) {
	res, err := c.Service.RerunWorkflow(ctx, &weftv1.RerunWorkflowRequest{Id: runID, FromSteps: fromSteps}, opts...)
	if err != nil {
		return nil, err
	}
	return res.GetWorkflow(), nil
}

// RedeliverWebhook delivers a finished run's on_complete / on_error webhook
// again (one that failed, or was delivered).
func (c *Client) RedeliverWebhook(ctx context.Context, runID string, opts ...grpc.CallOption) (*weftv1.Workflow, error) {
	res, err := c.Service.RedeliverWebhook(ctx, &weftv1.RedeliverWebhookRequest{Id: runID}, opts...)
	if err != nil {
		return nil, err
	}
	return res.GetWorkflow(), nil
}

// Cancel cancels a run that has not finished (codes.FailedPrecondition if it
// has); reason is recorded in the run's error.
func (c *Client) Cancel(ctx context.Context, runID, reason string, opts ...grpc.CallOption) (*weftv1.Workflow, error) {
	res, err := c.Service.CancelWorkflow(ctx, &weftv1.CancelWorkflowRequest{Id: runID, Reason: reason}, opts...)
	if err != nil {
		return nil, err
	}
	return res.GetWorkflow(), nil
}

// Pause pauses a pending or running run: nothing new starts until Resume
// (calls in flight finish and are recorded). holdDeadline stops the deadline
// clock while paused (Resume extends the deadline). codes.FailedPrecondition
// (reasons RUN_PAUSED, RUN_FINISHED, RUN_COMPENSATING) if it cannot be paused.
func (c *Client) Pause(ctx context.Context, runID, reason string, holdDeadline bool, opts ...grpc.CallOption) (*weftv1.Workflow, error) {
	res, err := c.Service.PauseWorkflow(ctx, &weftv1.PauseWorkflowRequest{Id: runID, Reason: reason, HoldDeadline: holdDeadline}, opts...)
	if err != nil {
		return nil, err
	}
	return res.GetWorkflow(), nil
}

// Resume resumes a paused run where it stopped (codes.FailedPrecondition,
// reason RUN_NOT_PAUSED, if it is not paused).
func (c *Client) Resume(ctx context.Context, runID string, opts ...grpc.CallOption) (*weftv1.Workflow, error) {
	res, err := c.Service.ResumeWorkflow(ctx, &weftv1.ResumeWorkflowRequest{Id: runID}, opts...)
	if err != nil {
		return nil, err
	}
	return res.GetWorkflow(), nil
}

// Delete deletes a finished run with its events (codes.FailedPrecondition if
// it has not finished, codes.NotFound if there is no such run).
func (c *Client) Delete(ctx context.Context, runID string, opts ...grpc.CallOption) error {
	_, err := c.Service.DeleteWorkflow(ctx, &weftv1.DeleteWorkflowRequest{Id: runID}, opts...)
	return err
}

// IsTerminal reports whether a run in state s has finished.
func IsTerminal(s weftv1.WorkflowState) bool {
	switch s {
	case weftv1.WorkflowState_WORKFLOW_STATE_COMPLETED,
		weftv1.WorkflowState_WORKFLOW_STATE_FAILED,
		weftv1.WorkflowState_WORKFLOW_STATE_CANCELLED:
		return true
	}
	return false
}

// WatchEndedError is returned by Watch when the server ended the stream
// before the run finished (e.g. it is shutting down). Resume with
// Watch(ctx, runID, LastSequence, fn).
type WatchEndedError struct {
	RunID        string
	LastSequence int64
}

func (e *WatchEndedError) Error() string {
	return fmt.Sprintf("weft: watch of %s ended before the run finished (resume after sequence %d)", e.RunID, e.LastSequence)
}

// Watch streams a run and calls fn for every message, in order: with
// afterSequence 0 a snapshot first, then every event (run, step and
// compensation transitions, sequences 1, 2, 3, … without gaps) and, on idle
// streams, heartbeats. With afterSequence N > 0 there is no snapshot and the
// first event is N+1.
//
// Watch returns nil once fn has seen the run finish (a terminal run event,
// or a snapshot of a finished run); fn's error if it returns one; the
// stream's error (a gRPC status error, or ctx's); or *WatchEndedError if the
// stream ended cleanly before the run finished.
func (c *Client) Watch(ctx context.Context, runID string, afterSequence int64, fn func(*weftv1.WatchWorkflowResponse) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // also ends the stream when returning early
	stream, err := c.Service.WatchWorkflow(ctx, &weftv1.WatchWorkflowRequest{Id: runID, AfterSequence: afterSequence})
	if err != nil {
		return err
	}
	last := afterSequence
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return &WatchEndedError{RunID: runID, LastSequence: last}
		}
		if err != nil {
			return err
		}
		finished := false
		switch k := msg.GetKind().(type) {
		case *weftv1.WatchWorkflowResponse_Snapshot:
			last = k.Snapshot.GetLastSequence()
			finished = IsTerminal(k.Snapshot.GetState())
		case *weftv1.WatchWorkflowResponse_Event:
			last = k.Event.GetSequence()
			if run := k.Event.GetRun(); run != nil {
				finished = IsTerminal(run.GetToState())
			}
		}
		if err := fn(msg); err != nil {
			return err
		}
		if finished {
			return nil
		}
	}
}

// FieldViolations returns the google.rpc.BadRequest field violations carried
// by a gRPC status error (CreateWorkflow's INVALID_ARGUMENT lists every
// problem, e.g. field "steps[2].depends_on[0]", description
// `unknown step "charge"`), or nil if there are none.
func FieldViolations(err error) []*errdetails.BadRequest_FieldViolation {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	var out []*errdetails.BadRequest_FieldViolation
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			out = append(out, br.GetFieldViolations()...)
		}
	}
	return out
}

// ErrorReason returns the google.rpc.ErrorInfo reason of a gRPC status error
// (e.g. "RUN_NOT_FOUND", "RUN_FINISHED"), or "".
func ErrorReason(err error) string {
	if err == nil {
		return ""
	}
	st, ok := status.FromError(err)
	if !ok {
		return ""
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}
