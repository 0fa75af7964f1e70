/**
 * The files API's routes (Mesos's `/files/browse`, `/files/read`, `/files/download`; the logic is
 * functions/files/files.ts): GET only, authenticated as a framework or an operator principal, errors in
 * plain text as Mesos's are. A read carries the task's state in `Mantle-Task-State` when it is known, so
 * that a follower (sdk/task-output.ts) knows when the output is complete.
 */
import { Hono, type Context } from 'hono';
import type { Authenticator } from '../master/auth.js';
import type { Master } from '../master/master.js';
import { browse, download, read, type FilesFailure } from '../files/files.js';
import { parseReadQuery } from '../files/paths.js';
import { authenticated, text, type MasterEnv } from './scheduler-route.js';

export const FILES_PATH = '/files';
export const TASK_STATE_HEADER = 'Mantle-Task-State';

function failed(c: Context, failure: FilesFailure): Response {
  return text(c, failure.status, failure.message);
}

export function filesRoutes(master: Master, authenticator: Authenticator): Hono<MasterEnv> {
  const files = new Hono<MasterEnv>();
  files.use('*', authenticated(master, authenticator, ['framework', 'operator']));

  files.get('/browse', async (c) => {
    const listing = await browse(master, c.req.query('path'), c.get('principal'));
    return listing.ok ? c.json(listing.value) : failed(c, listing.error);
  });

  files.get('/read', async (c) => {
    const query = parseReadQuery(c.req.query('offset'), c.req.query('length'));
    if (!query.ok) return text(c, 400, query.error);
    const answer = await read(master, c.req.query('path'), query.value, c.get('principal'));
    if (!answer.ok) return failed(c, answer.error);
    const { data, offset, state } = answer.value;
    return c.json({ data, offset }, 200, state ? { [TASK_STATE_HEADER]: state } : {});
  });

  files.get('/download', async (c) => {
    const file = await download(master, c.req.query('path'), c.get('principal'));
    if (!file.ok) return failed(c, file.error);
    return new Response(file.value.body, {
      status: 200,
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Disposition': `attachment; filename=${file.value.name}`,
      },
    });
  });

  files.all('*', (c) => text(c, 405, 'Expecting a GET request', { Allow: 'GET' }));
  return files;
}
