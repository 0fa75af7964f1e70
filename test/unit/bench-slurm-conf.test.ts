import { describe, expect, it } from 'vitest';
import { nodeNames, slurmConf, TUNED } from '../../bench/slurm/conf.js';

function settings(conf: string): Map<string, string> {
  const lines = conf.trimEnd().split('\n');
  return new Map(
    lines.filter((l) => !/^(NodeName|PartitionName)=/.test(l)).map((l) => l.split(/=(.*)/, 2) as [string, string]),
  );
}

describe("bench:vs-slurm's slurm.conf", () => {
  const input = {
    dir: '/tmp/mantle-vs-slurm-x',
    controllerPort: 20000,
    nodePorts: [20001, 20002, 20003],
    cpusPerNode: 40,
    memoryPerNodeMb: 4096,
    maxArrayTasks: 1000,
  };

  it('declares one virtual node per port on this host, all in one default partition', () => {
    const conf = slurmConf(input);
    const nodes = conf.split('\n').filter((l) => l.startsWith('NodeName='));
    expect(nodes).toEqual([
      'NodeName=n1 NodeHostname=localhost NodeAddr=127.0.0.1 Port=20001 CPUs=40 RealMemory=4096 State=UNKNOWN',
      'NodeName=n2 NodeHostname=localhost NodeAddr=127.0.0.1 Port=20002 CPUs=40 RealMemory=4096 State=UNKNOWN',
      'NodeName=n3 NodeHostname=localhost NodeAddr=127.0.0.1 Port=20003 CPUs=40 RealMemory=4096 State=UNKNOWN',
    ]);
    expect(conf).toContain('PartitionName=bench Nodes=n1,n2,n3 Default=YES MaxTime=INFINITE State=UP\n');
    expect(nodeNames(3)).toEqual(['n1', 'n2', 'n3']);
  });

  it('keeps every file, socket and port its own: nothing under /etc, /var or /run', () => {
    const conf = settings(slurmConf(input));
    expect(conf.get('SlurmctldPort')).toBe('20000');
    expect(conf.get('AuthInfo')).toBe('socket=/tmp/mantle-vs-slurm-x/munge/munge.socket');
    for (const key of [
      'StateSaveLocation',
      'SlurmdSpoolDir',
      'SlurmctldPidFile',
      'SlurmdPidFile',
      'SlurmctldLogFile',
      'SlurmdLogFile',
      'JobCompLoc',
    ]) {
      expect(conf.get(key), key).toMatch(/^\/tmp\/mantle-vs-slurm-x\//);
    }
    // One spool, pid and log file per virtual node (%n is the node's name).
    expect(conf.get('SlurmdSpoolDir')).toContain('%n');
    expect(conf.get('SlurmdPidFile')).toContain('%n');
  });

  it('carries every tuned setting once, the issue quotes among them', () => {
    const conf = slurmConf(input);
    for (const [setting] of TUNED)
      expect(
        conf.split('\n').filter((l) => l === setting),
        setting,
      ).toHaveLength(1);
    const tuned = settings(conf);
    expect(tuned.get('SchedulerParameters')).toMatch(/(^|,)batch_sched_delay=0(,|$)/);
    expect(tuned.get('Epilog')).toBe('/bin/true');
    expect(tuned.get('MinJobAge')).toBe('2');
    expect(tuned.get('SlurmctldDebug')).toBe('error');
    expect(tuned.get('SlurmdDebug')).toBe('error');
  });

  it('admits the largest array the benchmark submits (MaxArraySize is one more than the last index)', () => {
    expect(settings(slurmConf(input)).get('MaxArraySize')).toBe('1001');
    expect(settings(slurmConf({ ...input, maxArrayTasks: 5000 })).get('MaxArraySize')).toBe('5001');
    expect(settings(slurmConf({ ...input, maxArrayTasks: 20 })).get('MaxArraySize')).toBe('1001');
  });
});
