// One `rewrap` per question, for a key service whose batch is not one request (aws-kms, kacls, and
// keyseal services without `/rewrap-batch`): the shape `rewrapBatch` answers, an item's refusal its
// result, so that one refused object does not fail the others of a rotation round.

/** `questions`: `[{ keyId, kind, wrapped, context, toKeyId? }]`; one result or Error per question, in order. */
export async function rewrapEach(client, questions) {
  const out = [];
  for (const q of questions) out.push(await client.rewrap(q.keyId, q.kind, q.wrapped, q.context, q.toKeyId).catch((e) => e));
  return out;
}
