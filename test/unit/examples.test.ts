/**
 * The example job files in examples/ are what `mantle job submit --file` reads and the Jobs API accepts
 * (frameworks/jobs/model.ts), and the DDP example wires torchrun from the gang's variables.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSpecFile } from '../../cli/job-spec.js';
import { parseJobSpec } from '../../frameworks/jobs/model.js';

const example = (name: string) => join(import.meta.dirname, '..', '..', 'examples', name);

describe('examples/pytorch-ddp-job.json', () => {
  it('validates against the Jobs API schema as a gang of GPU tasks', async () => {
    const parsed = parseJobSpec(await readSpecFile(example('pytorch-ddp-job.json')));
    expect(parsed.ok ? undefined : parsed.error).toBeUndefined();
    const spec = parsed.ok ? parsed.value : undefined;
    expect(spec?.gang).toBe(2);
    expect(spec?.resources.find((resource) => resource.name === 'gpus')?.scalar?.value).toBe(1);
    expect(spec?.docker_image).toMatch(/^pytorch\/pytorch:/);
  });

  it("takes MASTER_ADDR, WORLD_SIZE and RANK from the gang's variables and hands them to torchrun", async () => {
    const { command } = (await readSpecFile(example('pytorch-ddp-job.json'))) as { command: string };
    expect(command).toContain('MASTER_ADDR="${MANTLE_GANG_HOSTS%%,*}"');
    expect(command).toContain('WORLD_SIZE="$MANTLE_GANG_SIZE"');
    expect(command).toContain('RANK="$MANTLE_GANG_INDEX"');
    expect(command).toMatch(/torchrun --nnodes "\$WORLD_SIZE" --node_rank "\$RANK" .*--master_addr "\$MASTER_ADDR"/);
  });
});
