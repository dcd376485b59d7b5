// weft.v1.WorkflowService over Connect, gRPC and gRPC-Web.
import { toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import {
  type CancelWorkflowRequest,
  type CancelWorkflowResponse,
  type CreateWorkflowRequest,
  CreateWorkflowRequestSchema,
  type CreateWorkflowResponse,
  type GetWorkflowRequest,
  type GetWorkflowResponse,
  type ListWorkflowsRequest,
  type ListWorkflowsResponse,
  WorkflowService,
} from "../../gen/ts/weft/v1/workflow_pb.js";
import { compileWorkflow, formatViolations } from "../domain/compile-workflow.ts";
import type { RunState } from "../domain/run-record.ts";
import type { FieldViolation, Limits } from "../domain/workflow-spec.ts";
import { type Engine, RunFinishedError, RunNotFoundError } from "../engine/engine.ts";
import { RUN_STATE_FROM_PROTO, workflowInput, workflowToProto } from "./mappers.ts";

export const ERROR_DOMAIN = "weft.v1";
const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 100;

export function invalidArgument(violations: FieldViolation[]): ConnectError {
  return new ConnectError(formatViolations(violations), Code.InvalidArgument, undefined, [
    {
      desc: BadRequestSchema,
      value: { fieldViolations: violations.map((v) => ({ field: v.field, description: v.description })) },
    },
    { desc: ErrorInfoSchema, value: { reason: "INVALID_ARGUMENT", domain: ERROR_DOMAIN, metadata: {} } },
  ]);
}

function withInfo(message: string, code: Code, reason: string, metadata: Record<string, string>): ConnectError {
  return new ConnectError(message, code, undefined, [
    { desc: ErrorInfoSchema, value: { reason, domain: ERROR_DOMAIN, metadata } },
  ]);
}

function encodePageToken(lastRunId: string): string {
  return Buffer.from(JSON.stringify({ before: lastRunId })).toString("base64url");
}

function decodePageToken(token: string): string {
  try {
    const v = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { before?: unknown };
    if (typeof v.before === "string" && v.before.startsWith("wf_")) return v.before;
  } catch {
    // fall through
  }
  throw invalidArgument([{ field: "page_token", description: "invalid page token" }]);
}

function requireRunId(id: string): void {
  if (!id) throw invalidArgument([{ field: "id", description: "required" }]);
}

export class WorkflowServiceHandler implements ServiceImpl<typeof WorkflowService> {
  private readonly engine: Engine;
  private readonly limits: Limits;

  constructor(engine: Engine, limits: Limits) {
    this.engine = engine;
    this.limits = limits;
    this.createWorkflow = this.createWorkflow.bind(this);
    this.getWorkflow = this.getWorkflow.bind(this);
    this.listWorkflows = this.listWorkflows.bind(this);
    this.cancelWorkflow = this.cancelWorkflow.bind(this);
  }

  async createWorkflow(req: CreateWorkflowRequest): Promise<CreateWorkflowResponse> {
    const bytes = toBinary(CreateWorkflowRequestSchema, req).byteLength;
    const compiled = compileWorkflow(workflowInput(req), this.limits, bytes);
    if (!compiled.ok) throw invalidArgument(compiled.violations);
    const { run, created } = await this.engine.create(compiled.spec);
    return { $typeName: "weft.v1.CreateWorkflowResponse", workflow: workflowToProto(run), deduplicated: !created };
  }

  async getWorkflow(req: GetWorkflowRequest): Promise<GetWorkflowResponse> {
    requireRunId(req.id);
    const run = await this.engine.get(req.id);
    if (!run) throw withInfo(`workflow run "${req.id}" not found`, Code.NotFound, "RUN_NOT_FOUND", { id: req.id });
    return { $typeName: "weft.v1.GetWorkflowResponse", workflow: workflowToProto(run) };
  }

  async listWorkflows(req: ListWorkflowsRequest): Promise<ListWorkflowsResponse> {
    const violations: FieldViolation[] = [];
    if (req.pageSize < 0) violations.push({ field: "page_size", description: "must not be negative" });
    const states: RunState[] = [];
    req.states.forEach((s, i) => {
      const state = RUN_STATE_FROM_PROTO[s];
      if (state === undefined) violations.push({ field: `states[${i}]`, description: `unknown state ${s}` });
      else states.push(state);
    });
    if (violations.length > 0) throw invalidArgument(violations);
    const pageSize = Math.min(req.pageSize || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
    const beforeRunId = req.pageToken ? decodePageToken(req.pageToken) : undefined;
    const runs = await this.engine.list({
      states,
      workflowId: req.workflowId || undefined,
      beforeRunId,
      limit: pageSize + 1,
    });
    const page = runs.slice(0, pageSize);
    const more = runs.length > pageSize;
    return {
      $typeName: "weft.v1.ListWorkflowsResponse",
      workflows: page.map(workflowToProto),
      nextPageToken: more ? encodePageToken(page[page.length - 1].runId) : "",
    };
  }

  async cancelWorkflow(req: CancelWorkflowRequest): Promise<CancelWorkflowResponse> {
    requireRunId(req.id);
    try {
      const run = await this.engine.cancel(req.id, req.reason);
      return { $typeName: "weft.v1.CancelWorkflowResponse", workflow: workflowToProto(run) };
    } catch (err) {
      if (err instanceof RunNotFoundError) {
        throw withInfo(err.message, Code.NotFound, "RUN_NOT_FOUND", { id: req.id });
      }
      if (err instanceof RunFinishedError) {
        throw withInfo(err.message, Code.FailedPrecondition, "RUN_FINISHED", { id: req.id, state: err.state });
      }
      throw new ConnectError(String((err as Error).message ?? err), Code.Unavailable);
    }
  }
}
