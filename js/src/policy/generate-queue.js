// Concurrent encrypts of different contexts share `/generate-batch` requests (PROTOCOL.md §3.2.1;
// the Rust is src/generate_queue.rs). A cache miss asks for its data key at once while fewer than
// LANES requests are under way, so a caller alone never waits; beyond that it queues, and when a
// request ends the first one queued takes its lane and asks for itself and up to MAX_BATCH - 1
// others in one `/generate-batch`. So a burst of per-record encrypts costs a few requests instead
// of one each. Only for clients whose batch is one request (`batchesGenerate`).

/** Requests to the key service under way at once before cache misses queue. */
export const LANES = 2;
/** Contexts per `/generate-batch` (PROTOCOL.md §3.2.1 allows 100). */
export const MAX_BATCH = 50;

export class GenerateQueue {
  #inFlight = 0;
  #waiting = [];

  /** A lane came free: the first waiter takes it, or there is one lane fewer under way. */
  #handOver() {
    const next = this.#waiting.shift();
    if (next) next.lead();
    else this.#inFlight--;
  }

  /** `{ dataKey, wrapped, keyVersion }` for `context` from `client`, alone or in a batch. */
  async generate(client, keyId, context) {
    if (!client.batchesGenerate) return client.generate(keyId, context);
    if (this.#inFlight < LANES) {
      this.#inFlight++;
      try {
        return await client.generate(keyId, context);
      } finally {
        this.#handOver();
      }
    }
    const turn = await new Promise((resolve) => {
      this.#waiting.push({ context, lead: () => resolve({ lead: true }), done: (outcome) => resolve(outcome) });
    });
    if (!turn.lead) {
      if (turn.error) throw turn.error;
      return turn.value;
    }
    // this waiter holds a lane now: it asks for itself and the next ones queued
    try {
      const others = this.#waiting.splice(0, MAX_BATCH - 1);
      if (others.length === 0) return await client.generate(keyId, context);
      let answer;
      try {
        answer = await client.generateBatch(keyId, [context, ...others.map((w) => w.context)]);
      } catch (error) {
        for (const w of others) w.done({ error });
        throw error;
      }
      const keys = answer.items.map((it) => ({ dataKey: it.dataKey, wrapped: it.wrapped, keyVersion: answer.keyVersion }));
      others.forEach((w, i) => w.done({ value: keys[i + 1] }));
      return keys[0];
    } finally {
      this.#handOver();
    }
  }
}
