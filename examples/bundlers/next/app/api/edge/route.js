// A route handler on the Edge runtime: GET /api/edge?kms=URL&token=TOKEN runs the checks there.
import * as keyseal from 'keyseal';
import { runChecks } from '../../../../shared/checks.js';

export const runtime = 'edge';
export const dynamic = 'force-dynamic';

export async function GET(request) {
  const q = new URL(request.url).searchParams;
  const results = await runChecks(keyseal, { url: q.get('kms'), token: q.get('token') }, 'edge route');
  return Response.json({ results });
}
