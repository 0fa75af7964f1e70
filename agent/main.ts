/**
 * `mantle agent`: parses the flags, starts the agent and runs until SIGTERM or SIGINT, which stop the
 * agent and leave its tasks running (a restarted agent recovers them, as a Mesos agent does). Resolves
 * with the process exit status. Also runnable directly: `tsx agent/main.ts --master=... --work_dir=...`.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startAgent } from './agent.js';
import { FlagError, parseAgentFlags, usage } from './config.js';

export async function runAgentCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let parsed;
  try {
    parsed = parseAgentFlags(argv, env);
  } catch (error) {
    if (!(error instanceof FlagError)) throw error;
    console.error(`mantle agent: ${error.message}`);
    return 2;
  }
  if (parsed.help) {
    console.log(usage());
    return 0;
  }
  const config = {
    ...parsed.config,
    ...(parsed.config.sqsEndpoint === undefined && env.AWS_ENDPOINT_URL_SQS
      ? { sqsEndpoint: env.AWS_ENDPOINT_URL_SQS }
      : {}),
    ...(parsed.config.s3Endpoint === undefined && env.AWS_ENDPOINT_URL_S3
      ? { s3Endpoint: env.AWS_ENDPOINT_URL_S3 }
      : {}),
  };
  let agent;
  try {
    agent = await startAgent({ config, env });
  } catch (error) {
    console.error(`mantle agent: ${(error as Error).message}`);
    return 1;
  }
  const running = agent;
  return new Promise<number>((resolve) => {
    const stop = (status: number) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      void running.stop().then(() => resolve(status));
    };
    const onSignal = () => stop(0);
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    void running.failed.then((error) => {
      console.error(`mantle agent: ${error.message}`);
      stop(1);
    });
  });
}

function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  process.exitCode = await runAgentCli(process.argv.slice(2));
}
