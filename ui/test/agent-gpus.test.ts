/**
 * The Agents page's GPU cell (ui/src/resources.ts `gpuList`): an agent's GPUs as GET_AGENTS lists them
 * (Mantle's `gpus` field), by model with their indices, MIG devices by profile with their GPUs' indices.
 */
import { describe, expect, it } from 'vitest';
import type { AgentGpu } from '../src/api.js';
import { gpuList } from '../src/resources.js';

const a100 = (index: number): AgentGpu => ({
  index,
  uuid: `GPU-${index}`,
  model: 'NVIDIA A100-SXM4-40GB',
  memory_mib: 40960,
});
const mig = (index: number, device: number, profile: string, memory: number): AgentGpu => ({
  index,
  uuid: `MIG-${index}-${device}`,
  model: 'NVIDIA A100-SXM4-40GB',
  memory_mib: memory,
  mig_parent_uuid: `GPU-${index}`,
  mig_profile: profile,
});

describe("the agents page's GPUs", () => {
  it('lists none for an agent without the list (no GPUs, or an agent from before it)', () => {
    expect(gpuList(undefined)).toEqual([]);
    expect(gpuList([])).toEqual([]);
  });

  it('names the model, memory and indices of each kind, whole GPUs and MIG devices apart', () => {
    const gpus = [
      mig(5, 0, '3g.20gb', 19968),
      a100(7),
      mig(0, 0, '3g.20gb', 19968),
      mig(0, 1, '2g.10gb', 9856),
      a100(1),
      a100(2),
      a100(3),
      mig(5, 1, '3g.20gb', 19968),
    ];
    expect(gpuList(gpus)).toEqual([
      '3 × NVIDIA A100-SXM4-40GB MIG 3g.20gb 19.5 GB (0, 5)',
      '1 × NVIDIA A100-SXM4-40GB MIG 2g.10gb 9.6 GB (0)',
      '4 × NVIDIA A100-SXM4-40GB 40.0 GB (1–3, 7)',
    ]);
  });

  it('says GPU where nvidia-smi gave no model name', () => {
    expect(gpuList([{ index: 0, uuid: 'GPU-0', model: '', memory_mib: 512 }])).toEqual(['1 × GPU 512 MB (0)']);
  });
});
