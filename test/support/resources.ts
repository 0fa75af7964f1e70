/** Resources in the agent flag text form, for tests (a parse failure is the test's own mistake). */
import type { Resource } from '#shared/protocol/mesos.js';
import { parseResourceText } from '#shared/resources/parse.js';

export function resources(text: string): Resource[] {
  const result = parseResourceText(text);
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}
