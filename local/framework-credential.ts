/** A built-in framework's principal on the local cluster (Jobs, Services). */
import { newSecret } from '../functions/master/auth.js';
import type { Master } from '../functions/master/master.js';

/**
 * The principal's credential: created (or its secret replaced) at every start, kept only in process; undefined
 * with authentication off. Its roles are every role (`*`): the framework runs each team's work in its role.
 */
export async function frameworkCredential(
  master: Master,
  principal: string,
): Promise<{ principal: string; secret: string } | undefined> {
  if (!master.config.authenticate) return undefined;
  const secret = newSecret();
  const { principals } = master.registrar;
  const created = await principals.create({ principal, secret, kind: 'framework', roles: ['*'] });
  if (!created.ok) {
    if (created.error.code !== 'PRINCIPAL_EXISTS') throw new Error(`${principal} principal: ${created.error.message}`);
    const rotated = await principals.rotate(principal, secret);
    if (!rotated.ok) throw new Error(`${principal} principal: ${rotated.error.message}`);
  }
  return { principal, secret };
}
