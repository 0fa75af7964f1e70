/**
 * An STS stand-in on loopback, playing AWS STS's `GetCallerIdentity` for agent identity: it verifies
 * the request's SigV4 signature itself (canonical request, string to sign, signing key, written here
 * from AWS's SigV4 documentation, independent of the SDK signer the agent uses) against known test
 * credentials — each an "instance" with its role session ARN and UserId — and answers in STS's XML,
 * or with STS's XML errors: an unknown key or session token (InvalidClientTokenId), a signature that
 * does not match (SignatureDoesNotMatch), one more than 15 minutes off (SignatureDoesNotMatch, as STS
 * says "Signature expired"), any other action (InvalidAction).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StsCaller {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly arn: string;
  readonly userId: string;
  readonly account: string;
}

export const TEST_ACCOUNT = '123456789012';

/** A role session as EC2 gives an instance: `assumed-role/<role>/<instance id>`, UserId `<role id>:<instance id>`. */
export function instanceCaller(roleName: string, roleId: string, instanceId: string): StsCaller {
  return {
    accessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(20).toString('base64'),
    sessionToken: randomBytes(300).toString('base64'),
    arn: `arn:aws:sts::${TEST_ACCOUNT}:assumed-role/${roleName}/${instanceId}`,
    userId: `${roleId}:${instanceId}`,
    account: TEST_ACCOUNT,
  };
}

export interface StsCall {
  readonly action: string | undefined;
  readonly status: number;
  readonly host: string | undefined;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface StsStandIn {
  readonly url: string;
  readonly calls: StsCall[];
  add(caller: StsCaller): StsCaller;
  /** Answers the next calls with this status (a fault), or never (a hang), instead of verifying. */
  fail(mode: 'none' | 503 | 'hang'): void;
  close(): Promise<void>;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

function xmlError(res: ServerResponse, status: number, code: string, message: string): number {
  res.writeHead(status, { 'Content-Type': 'text/xml' });
  res.end(
    `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>` +
      `<Code>${code}</Code><Message>${message}</Message></Error><RequestId>${randomBytes(8).toString('hex')}</RequestId></ErrorResponse>`,
  );
  return status;
}

function identityXml(caller: StsCaller): string {
  return (
    `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n  <GetCallerIdentityResult>\n` +
    `    <Arn>${caller.arn}</Arn>\n    <UserId>${caller.userId}</UserId>\n    <Account>${caller.account}</Account>\n` +
    `  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>${randomBytes(8).toString('hex')}</RequestId>\n` +
    `  </ResponseMetadata>\n</GetCallerIdentityResponse>\n`
  );
}

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;

/** SigV4 by the book: the signature this request should carry with this secret. */
function expectedSignature(req: IncomingMessage, body: string, secret: string, auth: RegExpExecArray): string {
  const [, , day, region, service, signedHeaders] = auth as unknown as string[];
  const names = (signedHeaders as string).split(';');
  const canonicalHeaders = names
    .map(
      (name) =>
        `${name}:${String(req.headers[name] ?? '')
          .trim()
          .replace(/\s+/g, ' ')}\n`,
    )
    .join('');
  const [path, query = ''] = (req.url ?? '/').split('?');
  const canonicalQuery = query
    .split('&')
    .filter((pair) => pair !== '')
    .sort()
    .join('&');
  const canonical = [req.method, path, canonicalQuery, canonicalHeaders, signedHeaders, sha256(body)].join('\n');
  const amzDate = String(req.headers['x-amz-date']);
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  let key = hmac(`AWS4${secret}`, day as string);
  for (const part of [region as string, service as string, 'aws4_request']) key = hmac(key, part);
  return hmac(key, toSign).toString('hex');
}

function amzDateMs(value: string | undefined): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? '');
  if (!m) return Number.NaN;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

function answer(req: IncomingMessage, res: ServerResponse, body: string, callers: Map<string, StsCaller>): number {
  const params = new URLSearchParams(body);
  if (req.method !== 'POST' || params.get('Action') !== 'GetCallerIdentity' || params.get('Version') !== '2011-06-15') {
    return xmlError(res, 400, 'InvalidAction', 'Only GetCallerIdentity is stood in for');
  }
  const auth = AUTH.exec(String(req.headers.authorization ?? ''));
  if (!auth) return xmlError(res, 403, 'IncompleteSignature', 'Authorization header requires a SigV4 signature');
  const caller = callers.get(auth[1] as string);
  if (!caller)
    return xmlError(res, 403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
  if (caller.sessionToken !== undefined && req.headers['x-amz-security-token'] !== caller.sessionToken) {
    return xmlError(res, 403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
  }
  const signedHeaders = (auth[5] as string).split(';');
  if (!signedHeaders.includes('host') || !signedHeaders.includes('x-amz-date') || auth[4] !== 'sts') {
    return xmlError(res, 403, 'SignatureDoesNotMatch', 'Signed headers must include host and x-amz-date');
  }
  if (
    Math.abs(Date.now() - amzDateMs(req.headers['x-amz-date'] as string | undefined)) > 15 * 60_000 ||
    auth[2] !== String(req.headers['x-amz-date']).slice(0, 8)
  ) {
    return xmlError(res, 403, 'SignatureDoesNotMatch', 'Signature expired: the request date is not within 15 minutes');
  }
  const expected = Buffer.from(expectedSignature(req, body, caller.secretAccessKey, auth));
  const given = Buffer.from(auth[6] as string);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return xmlError(res, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match');
  }
  res.writeHead(200, { 'Content-Type': 'text/xml' });
  res.end(identityXml(caller));
  return 200;
}

export async function startStsStandIn(): Promise<StsStandIn> {
  const callers = new Map<string, StsCaller>();
  const calls: StsCall[] = [];
  let failing: 'none' | 503 | 'hang' = 'none';
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (failing === 'hang') return;
      const status =
        failing === 503
          ? xmlError(res, 503, 'ServiceUnavailable', 'The stand-in is told to fail')
          : answer(req, res, body, callers);
      calls.push({
        action: new URLSearchParams(body).get('Action') ?? undefined,
        status,
        host: req.headers.host,
        headers: req.headers,
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    add(caller) {
      callers.set(caller.accessKeyId, caller);
      return caller;
    },
    fail(mode) {
      failing = mode;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
