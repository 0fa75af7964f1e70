/**
 * `npm start`: the local cluster's supervisor. For now it stands up the local AWS stand-ins (DynamoDB
 * Local and the SQS stand-in), creates the registrar's tables, prints where everything is, and stops
 * all it started on Ctrl-C. The master's HTTP API and agents join it in later work.
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { createTables, tableNames } from '../shared/registrar/index.js';
import { startLocalAws, type LocalAws } from './aws-standins.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const USAGE = `Usage: npm start -- [options]

  --data_dir <dir>       keep the registrar's tables on disk here (default: in memory)
  --dynamodb_port <n>    DynamoDB Local port (default 8000)
  --sqs_port <n>         SQS stand-in port (default 9324)
  --cluster <name>       table name prefix (default "mantle")
  --help`;

function port(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${flag} must be a port number, not '${value}'`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data_dir: { type: 'string' },
      dynamodb_port: { type: 'string' },
      sqs_port: { type: 'string' },
      cluster: { type: 'string', default: 'mantle' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const dataDir = values.data_dir ? resolve(values.data_dir) : undefined;
  const started = Date.now();
  console.log('mantle: starting the local AWS stand-ins...');
  const aws: LocalAws = await startLocalAws({
    dynamodb: { port: port(values.dynamodb_port, 8000, '--dynamodb_port'), ...(dataDir ? { dataDir } : {}) },
    sqsPort: port(values.sqs_port, 9324, '--sqs_port'),
  });
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log(`\nmantle: ${signal}, stopping DynamoDB Local (pid ${aws.dynamodb.pid}) and the SQS stand-in...`);
    await aws.stop();
    console.log('mantle: stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  const clients = aws.clients();
  const tables = tableNames(values.cluster);
  await createTables(clients.dynamodb, tables);
  clients.destroy();

  console.log(`mantle: ready in ${Date.now() - started} ms
  DynamoDB Local   ${aws.dynamodb.endpoint}  (pid ${aws.dynamodb.pid}, ${dataDir ? `data in ${dataDir}` : 'in memory'})
  SQS stand-in     ${aws.sqs.endpoint}
  tables           ${Object.values(tables).join(', ')}

  Point the AWS SDK or CLI at them with:
    export AWS_ENDPOINT_URL_DYNAMODB=${aws.dynamodb.endpoint} AWS_ENDPOINT_URL_SQS=${aws.sqs.endpoint}
    export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local

  The master's API (port 5050) and agents are not part of this build yet. Ctrl-C stops everything.`);
}

main().catch((error: unknown) => {
  console.error(`mantle: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
