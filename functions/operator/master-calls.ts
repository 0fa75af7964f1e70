/** The master's own calls: GET_HEALTH and GET_VERSION (Mesos `master.proto` `Response.GetHealth`, `GetVersion`). */
import { MANTLE_VERSION } from '../scheduler/subscribe.js';
import { operatorCall } from './dispatch.js';
import { respond } from './responses.js';

/** Mesos `VersionInfo`: Mantle reports its own version, as `MasterInfo.version` does. */
export function versionInfo(): { version: string } {
  return { version: MANTLE_VERSION };
}

export const GET_HEALTH = operatorCall({
  type: 'GET_HEALTH',
  // A master that answers is healthy: every handler is stateless, and the registrar answered the caller's checks.
  handle: async () => respond('GET_HEALTH', 'get_health', { healthy: true }),
});

export const GET_VERSION = operatorCall({
  type: 'GET_VERSION',
  handle: async () => respond('GET_VERSION', 'get_version', { version_info: versionInfo() }),
});
