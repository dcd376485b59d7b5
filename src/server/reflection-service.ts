// gRPC server reflection (grpcurl, grpcui, Postman, ...), served as both
// grpc.reflection.v1.ServerReflection and grpc.reflection.v1alpha.ServerReflection
// (identical message shapes; older clients only know v1alpha). See
// https://github.com/grpc/grpc/blob/master/doc/server-reflection.md
//
// Usage, either:
//   const impls = reflectionServiceImpls(files, serviceNames);
//   router.service(ServerReflectionV1, impls.v1).service(ServerReflectionV1alpha, impls.v1alpha);
// or, listing exactly the services registered on the router (evaluated per
// request, so services registered later count too):
//   registerReflection(router, [file_weft_v1_workflow]);
//
// The reflection services list themselves and their own files are always
// indexed. Every file response carries the requested file followed by all of
// its transitive dependencies (well-known types included), each as a
// serialized google.protobuf.FileDescriptorProto. Lookup failures answer with
// an error_response (NOT_FOUND) and keep the stream open.

import { toBinary } from "@bufbuild/protobuf";
import type { DescFile } from "@bufbuild/protobuf";
import {
  FileDescriptorProtoSchema,
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import {
  ServerReflection as ServerReflectionV1,
  file_grpc_reflection_v1_reflection,
  type ServerReflectionRequest as RequestV1,
} from "../../gen/ts/grpc/reflection/v1/reflection_pb.js";
import {
  ServerReflection as ServerReflectionV1alpha,
  file_grpc_reflection_v1alpha_reflection,
  type ServerReflectionRequest as RequestV1alpha,
} from "../../gen/ts/grpc/reflection/v1alpha/reflection_pb.js";

export { ServerReflectionV1, ServerReflectionV1alpha };

/** The `message_request` oneof, common to v1 and v1alpha. */
type MessageRequest = (RequestV1 | RequestV1alpha)["messageRequest"];

/** The `message_response` oneof as plain init objects, valid for v1 and v1alpha. */
type MessageResponse =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

const REFLECTION_SERVICE_NAMES = [ServerReflectionV1.typeName, ServerReflectionV1alpha.typeName];
const REFLECTION_FILES = [file_grpc_reflection_v1_reflection, file_grpc_reflection_v1alpha_reflection];

/** Immutable lookup tables over a set of files and their dependencies. */
class DescriptorIndex {
  readonly #files = new Map<string, DescFile>(); // by proto file name, e.g. "weft/v1/workflow.proto"
  readonly #symbols = new Map<string, DescFile>(); // by fully-qualified name, no leading dot
  readonly #messages = new Set<string>();
  /** extendee type name -> extension number -> declaring file */
  readonly #extensions = new Map<string, Map<number, DescFile>>();
  readonly #encoded = new Map<DescFile, Uint8Array>();

  constructor(roots: Iterable<DescFile>) {
    const visit = (file: DescFile) => {
      if (this.#files.has(file.proto.name)) return;
      this.#files.set(file.proto.name, file);
      this.#indexFile(file);
      for (const dep of file.dependencies) visit(dep);
    };
    for (const file of roots) visit(file);
  }

  // Walks the raw FileDescriptorProto rather than protobuf-es descriptors:
  // it also has the synthetic map entry messages (e.g. Workflow.ResultsEntry),
  // which clients resolve when they follow field types.
  #indexFile(file: DescFile): void {
    const add = (name: string) => {
      if (!this.#symbols.has(name)) this.#symbols.set(name, file);
    };
    const join = (scope: string, name: string) => (scope === "" ? name : `${scope}.${name}`);
    const addExtensions = (list: FieldDescriptorProto[]) => {
      for (const ext of list) {
        const extendee = stripDot(ext.extendee);
        const numbers = this.#extensions.get(extendee) ?? new Map<number, DescFile>();
        numbers.set(ext.number, file);
        this.#extensions.set(extendee, numbers);
      }
    };
    const addEnum = (scope: string, e: EnumDescriptorProto) => {
      add(join(scope, e.name));
      // Enum values are siblings of their enum in protobuf scoping.
      for (const value of e.value) add(join(scope, value.name));
    };
    const addMessage = (scope: string, m: DescriptorProto) => {
      const name = join(scope, m.name);
      add(name);
      this.#messages.add(name);
      for (const field of m.field) add(`${name}.${field.name}`);
      for (const oneof of m.oneofDecl) add(`${name}.${oneof.name}`);
      for (const ext of m.extension) add(`${name}.${ext.name}`);
      addExtensions(m.extension);
      for (const nested of m.nestedType) addMessage(name, nested);
      for (const e of m.enumType) addEnum(name, e);
    };
    const pkg = file.proto.package;
    for (const m of file.proto.messageType) addMessage(pkg, m);
    for (const e of file.proto.enumType) addEnum(pkg, e);
    for (const ext of file.proto.extension) add(join(pkg, ext.name));
    addExtensions(file.proto.extension);
    for (const service of file.proto.service) {
      const name = join(pkg, service.name);
      add(name);
      for (const method of service.method) add(`${name}.${method.name}`);
    }
  }

  fileByName(name: string): DescFile | undefined {
    return this.#files.get(name);
  }

  fileContainingSymbol(symbol: string): DescFile | undefined {
    return this.#symbols.get(symbol.startsWith(".") ? symbol.slice(1) : symbol);
  }

  hasMessage(typeName: string): boolean {
    return this.#messages.has(stripDot(typeName));
  }

  extensionNumbersOf(typeName: string): number[] {
    return [...(this.#extensions.get(stripDot(typeName))?.keys() ?? [])].sort((a, b) => a - b);
  }

  fileContainingExtension(typeName: string, extensionNumber: number): DescFile | undefined {
    return this.#extensions.get(stripDot(typeName))?.get(extensionNumber);
  }

  /** The file first, then its transitive dependencies, each once. */
  encodeWithDependencies(file: DescFile): Uint8Array[] {
    const out: Uint8Array[] = [];
    const seen = new Set<string>();
    const visit = (f: DescFile) => {
      if (seen.has(f.proto.name)) return;
      seen.add(f.proto.name);
      out.push(this.#encode(f));
      for (const dep of f.dependencies) visit(dep);
    };
    visit(file);
    return out;
  }

  #encode(file: DescFile): Uint8Array {
    let bytes = this.#encoded.get(file);
    if (bytes === undefined) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      this.#encoded.set(file, bytes);
    }
    return bytes;
  }
}

function stripDot(name: string): string {
  return name.startsWith(".") ? name.slice(1) : name;
}

function notFound(message: string): MessageResponse {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: message } };
}

function answer(index: DescriptorIndex, listServices: () => string[], request: MessageRequest): MessageResponse {
  switch (request.case) {
    case "listServices":
      return { case: "listServicesResponse", value: { service: listServices().map((name) => ({ name })) } };
    case "fileByFilename": {
      const file = index.fileByName(request.value);
      if (file === undefined) return notFound(`file not found: ${request.value}`);
      return { case: "fileDescriptorResponse", value: { fileDescriptorProto: index.encodeWithDependencies(file) } };
    }
    case "fileContainingSymbol": {
      const file = index.fileContainingSymbol(request.value);
      if (file === undefined) return notFound(`symbol not found: ${request.value}`);
      return { case: "fileDescriptorResponse", value: { fileDescriptorProto: index.encodeWithDependencies(file) } };
    }
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = request.value;
      const file = index.fileContainingExtension(containingType, extensionNumber);
      if (file === undefined) return notFound(`extension not found: ${containingType} ${extensionNumber}`);
      return { case: "fileDescriptorResponse", value: { fileDescriptorProto: index.encodeWithDependencies(file) } };
    }
    case "allExtensionNumbersOfType": {
      const typeName = stripDot(request.value);
      if (!index.hasMessage(typeName)) return notFound(`type not found: ${request.value}`);
      const numbers = index.extensionNumbersOf(typeName);
      return { case: "allExtensionNumbersResponse", value: { baseTypeName: typeName, extensionNumber: numbers } };
    }
    default:
      return {
        case: "errorResponse",
        value: { errorCode: Code.InvalidArgument, errorMessage: "empty or unsupported message_request" },
      };
  }
}

export interface ReflectionServiceImpls {
  v1: ServiceImpl<typeof ServerReflectionV1>;
  v1alpha: ServiceImpl<typeof ServerReflectionV1alpha>;
}

/**
 * @param files descriptors to serve (their dependencies are included
 *   automatically), e.g. `[file_weft_v1_workflow, file_health_v1_health]`.
 * @param serviceNames what `list_services` answers (the reflection services
 *   are added), or a function evaluated per request.
 */
export function reflectionServiceImpls(
  files: DescFile[],
  serviceNames: string[] | (() => Iterable<string>),
): ReflectionServiceImpls {
  const index = new DescriptorIndex([...files, ...REFLECTION_FILES]);
  const listServices = (): string[] => {
    const names = typeof serviceNames === "function" ? [...serviceNames()] : serviceNames;
    return [...new Set([...names, ...REFLECTION_SERVICE_NAMES])].sort();
  };
  return {
    v1: {
      async *serverReflectionInfo(requests) {
        for await (const request of requests) {
          yield {
            validHost: request.host,
            originalRequest: request,
            messageResponse: answer(index, listServices, request.messageRequest),
          };
        }
      },
    },
    v1alpha: {
      async *serverReflectionInfo(requests) {
        for await (const request of requests) {
          yield {
            validHost: request.host,
            originalRequest: request,
            messageResponse: answer(index, listServices, request.messageRequest),
          };
        }
      },
    },
  };
}

/**
 * Registers both reflection services on `router`. Without `serviceNames`,
 * `list_services` reports the services registered on the router at request
 * time (reflection included), and their files are indexed too, next to
 * `files` (which may add descriptors of services that are not served, or of
 * extra types).
 */
export function registerReflection(router: ConnectRouter, files: DescFile[] = [], serviceNames?: string[]): ConnectRouter {
  const registered = () => new Set(router.handlers.map((h) => h.service));
  let cached: { key: number; impls: ReflectionServiceImpls } | undefined;
  // The index is rebuilt only when the set of registered handlers changed.
  const current = (): ReflectionServiceImpls => {
    if (cached === undefined || cached.key !== router.handlers.length) {
      const services = registered();
      const serviceFiles = [...services].map((s) => s.file);
      const names = serviceNames ?? [...services].map((s) => s.typeName);
      cached = { key: router.handlers.length, impls: reflectionServiceImpls([...files, ...serviceFiles], names) };
    }
    return cached.impls;
  };
  router.service(ServerReflectionV1, {
    serverReflectionInfo: (requests, context) => current().v1.serverReflectionInfo(requests, context),
  });
  router.service(ServerReflectionV1alpha, {
    serverReflectionInfo: (requests, context) => current().v1alpha.serverReflectionInfo(requests, context),
  });
  return router;
}
