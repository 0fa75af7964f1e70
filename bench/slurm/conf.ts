/**
 * slurm.conf for the side-by-side benchmark: one controller and N virtual nodes on this host, every path
 * under one temporary directory, every port our own. Tuned as an administrator would tune Slurm for many
 * short jobs (Slurm's high-throughput guide, slurm.schedmd.com/high_throughput.html), without switching off
 * anything a job needs: jobs are scheduled, launched by slurmd through slurmstepd, run, and reported as
 * they would be on a real cluster.
 */

export interface SlurmConfInput {
  /** The temporary directory that holds the munge socket, state, spool, pid and log files. */
  readonly dir: string;
  readonly controllerPort: number;
  /** One port per virtual node; node i is n<i+1>. */
  readonly nodePorts: readonly number[];
  /** CPUs each node offers: one job takes one CPU, so this is the number of jobs a node runs at once. */
  readonly cpusPerNode: number;
  readonly memoryPerNodeMb: number;
  /** The largest array the benchmark submits. */
  readonly maxArrayTasks: number;
}

export function nodeNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `n${i + 1}`);
}

/** The settings chosen for short-job throughput, each with the reason it was chosen. */
export const TUNED: ReadonlyArray<readonly [setting: string, why: string]> = [
  // The scheduler is asked at once on every submission and completion, not once per batch_sched_delay
  // seconds (default 3), and one such pass may start a whole array's worth of jobs (default 100).
  ['SchedulerParameters=batch_sched_delay=0,default_queue_depth=1000', 'schedule at every event, whole queue'],
  ['SchedulerType=sched/backfill', "Slurm's default; the main scheduler starts these jobs, backfill idles"],
  ['PriorityType=priority/basic', 'FIFO: no multifactor recalculation'],
  // Finished jobs leave the controller's tables 2 s after they end (default 300 s).
  ['MinJobAge=2', 'purge finished jobs quickly'],
  ['Epilog=/bin/true', 'the epilog of the measurement the issue quotes'],
  ['SlurmctldDebug=error', 'no debug logging'],
  ['SlurmdDebug=error', 'no debug logging'],
  // Per-job work that buys nothing for /bin/true: no accounting daemon, no usage sampling, no cgroups,
  // no CPU binding, no MPI setup.
  ['AccountingStorageType=accounting_storage/none', 'no slurmdbd round trip per job'],
  ['JobAcctGatherType=jobacct_gather/none', 'no per-job usage polling thread'],
  ['ProctrackType=proctrack/pgid', 'process groups: no cgroup per job'],
  ['TaskPlugin=task/none', 'no affinity or cgroup setup per task'],
  ['MpiDefault=none', 'no PMI setup per step'],
  ['SwitchType=switch/none', 'no interconnect setup'],
  // Jobs share nodes by CPU (the default select/linear would hand each job a whole node: 10 at once).
  ['SelectType=select/cons_tres', 'jobs share a node'],
  ['SelectTypeParameters=CR_CPU', 'one CPU per job, memory not tracked'],
  // Nodes declare the CPUs Mantle's agents offer, not the host's: the virtual nodes share this host.
  ['SlurmdParameters=config_overrides', 'nodes keep the configured CPUs'],
  ['ReturnToService=2', 'a node that registers is usable at once'],
  // The record of each finished job, which the benchmark reads to time and check completions (one
  // line appended per job; cheaper for the controller than answering squeue polls).
  ['JobCompType=jobcomp/filetxt', 'completion record per job'],
];

export function slurmConf(input: SlurmConfInput): string {
  const { dir } = input;
  const nodes = nodeNames(input.nodePorts.length);
  const lines = [
    'ClusterName=mantlebench',
    'SlurmctldHost=localhost',
    `SlurmctldPort=${input.controllerPort}`,
    'SlurmUser=root',
    'SlurmdUser=root',
    'AuthType=auth/munge',
    'CredType=cred/munge',
    `AuthInfo=socket=${dir}/munge/munge.socket`,
    `StateSaveLocation=${dir}/state`,
    `SlurmdSpoolDir=${dir}/spool/%n`,
    `SlurmctldPidFile=${dir}/run/slurmctld.pid`,
    `SlurmdPidFile=${dir}/run/slurmd-%n.pid`,
    `SlurmctldLogFile=${dir}/log/slurmctld.log`,
    `SlurmdLogFile=${dir}/log/slurmd-%n.log`,
    `JobCompLoc=${dir}/jobcomp.txt`,
    'MailProg=/bin/true',
    `MaxArraySize=${Math.max(1001, input.maxArrayTasks + 1)}`,
    ...TUNED.map(([setting]) => setting),
    ...nodes.map(
      (name, i) =>
        `NodeName=${name} NodeHostname=localhost NodeAddr=127.0.0.1 Port=${input.nodePorts[i]} ` +
        `CPUs=${input.cpusPerNode} RealMemory=${input.memoryPerNodeMb} State=UNKNOWN`,
    ),
    `PartitionName=bench Nodes=${nodes.join(',')} Default=YES MaxTime=INFINITE State=UP`,
  ];
  return `${lines.join('\n')}\n`;
}
