// A route handler on the Node.js runtime: GET /api/node?kms=URL&token=TOKEN runs the checks on the
// server and answers them as JSON.
import * as keyseal from 'keyseal';
import { runChecks } from '../../../../shared/checks.js';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

export async function GET(request) {
  const q = new URL(request.url).searchParams;
  const results = await runChecks(keyseal, { url: q.get('kms'), token: q.get('token') }, 'node route');
  return Response.json({ results });
}
