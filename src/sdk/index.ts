// Entry point of the Weft TypeScript SDK (see platform.ts).
export * from "./platform.ts";
