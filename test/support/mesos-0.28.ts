/**
 * Mesos 0.28.2's v1 definitions as the `mesos-framework` package ships them (a third party's copy, with v1's
 * names under the packages `mesos`, `mesos.scheduler` and `mesos.executor`), loaded with our protobufjs: an
 * independent check of Mantle's wire definitions on the messages both define.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);
const DIRECTORY = join(dirname(require.resolve('mesos-framework/package.json')), 'proto', '0.28.2');

let root: protobuf.Root | undefined;

export function mesos028(): protobuf.Root {
  if (root) return root;
  const parsed = new protobuf.Root();
  for (const file of ['mesos', 'scheduler', 'executor']) {
    protobuf.parse(readFileSync(join(DIRECTORY, `${file}.proto`), 'utf8'), parsed, { keepCase: true });
  }
  parsed.resolveAll();
  root = parsed;
  return parsed;
}
