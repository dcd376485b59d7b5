// Response bodies for connect-es universal handlers built by hand (refusals and rewritten errors).

/** A body of one chunk. */
export function singleChunk(chunk: Uint8Array): AsyncIterable<Uint8Array> {
  return (async function* () {
    yield chunk;
  })();
}
