// Runs the product document's finalize-batch route handler (compiled by tsc from
// cases/route/route.ts) on the system Node, as Next.js would call it: POST(request)
// with the request Weft sent, read from the JSON file given as argument
// ({url, headers, body}), then once more with the body changed after signing.
// Prints one JSON line: both responses and the rows the route stored.
import { readFileSync } from "node:fs";
import { NextRequest } from "next/server";
import { POST } from "./route/out/route.js";
import { db } from "./route/out/db.js";

const call = JSON.parse(readFileSync(process.argv[2], "utf8"));
const request = (body) => new NextRequest(call.url, { method: "POST", headers: call.headers, body });
const answer = async (res) => ({ status: res.status, body: await res.text() });

const signed = await answer(await POST(request(call.body)));
const tampered = await answer(await POST(request(call.body.replace('"batch_123"', '"batch_999"'))));
console.log(JSON.stringify({ signed, tampered, rows: db.batchResults.rows }));
