/** The `mantle` command line: the local cluster, an agent, one-off tasks, jobs and their queues, principals. */
import { runAgentCli } from '../agent/main.js';
import { LOCAL_USAGE, runLocalCli } from '../local/main.js';
import { EXECUTE_USAGE, runExecuteCli } from './execute.js';
import { JOB_USAGE, runJobCli } from './job.js';
import { PRINCIPAL_USAGE, runPrincipalCli } from './principal.js';
import { QUEUE_USAGE, runQueueCli } from './queue.js';

const USAGE = `Usage: mantle <command> [options]

Commands:
  local       start a whole cluster on this machine (what npm start runs)
  agent       run an agent and join a master
  execute     run one task and print its status and output (like mesos-execute)
  job         Mantle Jobs: submit, list, show, cancel, logs
  queue       Mantle Jobs' queues: set (weight, quota), show, list
  principal   manage principals: create, list, update, rotate, delete (credentials and ACLs)

Run 'mantle <command> --help' for a command's options.`;

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  // Words after `--` are a job's command, never this program's flags.
  const end = rest.indexOf('--');
  const flags = end === -1 ? rest : rest.slice(0, end);
  const help = flags.includes('--help') || flags.includes('-h');
  switch (command) {
    case 'local':
      if (help) return usage(LOCAL_USAGE);
      return runLocalCli(rest);
    case 'agent':
      return runAgentCli(rest);
    case 'execute':
      if (help) return usage(EXECUTE_USAGE);
      return runExecuteCli(rest);
    case 'job':
      if (help) return usage(JOB_USAGE);
      return runJobCli(rest);
    case 'queue':
      if (help) return usage(QUEUE_USAGE);
      return runQueueCli(rest);
    case 'principal':
      if (help) return usage(PRINCIPAL_USAGE);
      return runPrincipalCli(rest);
    case undefined:
    case 'help':
    case '--help':
      return usage(USAGE);
    default:
      console.error(`mantle: unknown command '${command}'\n\n${USAGE}`);
      return 2;
  }
}

function usage(text: string): number {
  console.log(text);
  return 0;
}
