import { describe, expect, it } from 'vitest';
import { dockerUpdate, memoryFits } from '../../agent/containerizer/docker-resize.js';
import { containerLimits } from '../../agent/isolation/limits.js';
import { resources } from '../support/agent.js';

const MB = 1024 * 1024;
const options = { enableCfs: true, pidsLimit: 0 };

describe("a Docker executor's container update (docker-resize.ts)", () => {
  it('sets what the container was created with: shares, quota, memory with no swap', () => {
    expect(dockerUpdate(containerLimits(resources('cpus:0.7;mem:192'), undefined, options), true)).toEqual({
      CpuShares: 716,
      CpuPeriod: 100_000,
      CpuQuota: 70_000,
      Memory: 192 * MB,
      MemorySwap: 192 * MB,
    });
  });

  it('lifts the quota without CFS (-1, as 0 would keep the old one) and leaves memory when told to', () => {
    const limits = containerLimits(resources('cpus:1;mem:64'), undefined, { enableCfs: false, pidsLimit: 0 });
    expect(dockerUpdate(limits, false)).toEqual({ CpuShares: 1024, CpuPeriod: 100_000, CpuQuota: -1 });
  });

  it('lowers the memory limit only when the memory in use fits under it', () => {
    expect(memoryFits(256 * MB, 128 * MB, undefined)).toBe(true);
    expect(memoryFits(128 * MB, 128 * MB, undefined)).toBe(true);
    expect(memoryFits(96 * MB, 128 * MB, 40 * MB)).toBe(true);
    expect(memoryFits(96 * MB, 128 * MB, 100 * MB)).toBe(false);
    // No reading: kept, rather than risk the OOM killer.
    expect(memoryFits(96 * MB, 128 * MB, undefined)).toBe(false);
    // A container created without a limit (0) may be given one.
    expect(memoryFits(96 * MB, 0, undefined)).toBe(true);
  });
});
