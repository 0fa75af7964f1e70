/**
 * `s3://bucket/key` URIs (Mesos's fetcher hands them to a Hadoop client; Mantle agents read them with
 * the AWS SDK and the agent's own credentials: the instance role in AWS). Those credentials are the
 * agent's, not the task's, so a task may read only the buckets its grant names (acl: s3_buckets), checked
 * before anything is read or served from the cache. The client is made at the first s3 URI and kept
 * (its idle sockets do not hold the process).
 */
import type { Readable } from 'node:stream';
import { GetObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { allowsS3Bucket } from '#shared/acl.js';
import type { LaunchGrant } from '#shared/protocol/internal.js';
import { FetchError } from './fetch-error.js';

export interface S3Settings {
  readonly region?: string;
  /** An S3-compatible endpoint (a stand-in, or a VPC endpoint's name); path-style addressing with it. */
  readonly endpoint?: string;
}

/** Refuses, as a FetchError, a bucket the grant does not name. */
export function checkBucket(grant: Pick<LaunchGrant, 's3_buckets'>, bucket: string): void {
  if (!allowsS3Bucket(grant, bucket)) {
    throw new FetchError(`refused: the task may not read the S3 bucket '${bucket}' (acl: s3_buckets)`);
  }
}

export interface S3Download {
  readonly bucket: string;
  readonly key: string;
  readonly signal: AbortSignal;
  /** Waits for the answer to a request, with the stall timeout (download.ts untilAnswered). */
  answered<T>(request: (signal: AbortSignal) => Promise<T>): Promise<T>;
}

export class S3Objects {
  private client: S3Client | undefined;

  constructor(private readonly settings: S3Settings) {}

  /** Reads one object and hands its body to `write`; S3's refusals become FetchErrors naming S3's reason. */
  async download(request: S3Download, grant: LaunchGrant, write: (body: Readable) => Promise<void>): Promise<void> {
    checkBucket(grant, request.bucket);
    const command = new GetObjectCommand({ Bucket: request.bucket, Key: request.key });
    try {
      const answer = await request.answered((abortSignal) => this.s3().send(command, { abortSignal }));
      if (answer.Body === undefined) throw new FetchError('S3 answered without a body');
      await write(answer.Body as Readable);
    } catch (error) {
      if (error instanceof FetchError || request.signal.aborted) throw error;
      throw new FetchError(describeS3Error(error));
    }
  }

  private s3(): S3Client {
    this.client ??= new S3Client({
      ...(this.settings.region ? { region: this.settings.region } : {}),
      ...(this.settings.endpoint ? { endpoint: this.settings.endpoint, forcePathStyle: true } : {}),
      // A bucket in another region answers with a redirect the client follows.
      followRegionRedirects: true,
    });
    return this.client;
  }
}

/** S3's error code and message (AccessDenied, NoSuchKey, NoSuchBucket), or the cause of a network error. */
function describeS3Error(error: unknown): string {
  if (error instanceof S3ServiceException) {
    const status = error.$metadata.httpStatusCode;
    return `S3 answered ${status ?? ''} ${error.name}${error.message && error.message !== error.name ? `: ${error.message}` : ''}`
      .replace(/ {2,}/g, ' ')
      .trim();
  }
  const cause = (error as { code?: string; message?: string }) ?? {};
  return `S3 could not be read: ${cause.code ?? cause.message ?? String(error)}`;
}
