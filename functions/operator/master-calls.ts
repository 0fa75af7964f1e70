/**
 * The master's own calls (Mesos `master.proto`): GET_HEALTH, GET_VERSION, GET_FLAGS, GET_MASTER,
 * GET_METRICS, GET_LOGGING_LEVEL, SET_LOGGING_LEVEL.
 */
import { z } from 'zod';
import type { Master } from '../master/master.js';
import { MANTLE_VERSION, masterInfo } from '../scheduler/subscribe.js';
import { operatorCall } from './dispatch.js';
import { applyLoggingLevel, currentLoggingLevel } from './logging.js';
import { operatorMetrics } from './metrics.js';
import { OK, respond } from './responses.js';

/** When this process started (Mesos `start_time`: a master's, here the serving process's), in seconds. */
const STARTED = Date.now() / 1000 - process.uptime();

/** Mesos `VersionInfo`: Mantle reports its own version, as `MasterInfo.version` does. */
export function versionInfo(): { version: string } {
  return { version: MANTLE_VERSION };
}

/** Mesos's flag names where Mesos has the setting (durations as Mesos prints them), Mantle's own otherwise. */
const MESOS_FLAGS: Readonly<Record<string, string>> = {
  authenticate: 'authenticate_http_frameworks',
  offerTimeoutSeconds: 'offer_timeout',
  agentPingTimeoutSeconds: 'agent_ping_timeout',
  maxAgentPingTimeouts: 'max_agent_ping_timeouts',
  cluster: 'cluster',
};

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/** `{name, value}` for every setting of the master, sorted by name. */
export function masterFlags(config: Master['config']): Array<{ name: string; value: string }> {
  return Object.entries(config)
    .map(([key, value]) => {
      const name = MESOS_FLAGS[key] ?? snakeCase(key);
      const shown =
        key.endsWith('Seconds') && MESOS_FLAGS[key]
          ? `${String(value)}secs`
          : typeof value === 'object'
            ? JSON.stringify(value)
            : String(value);
      return { name, value: shown };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
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

export const GET_FLAGS = operatorCall({
  type: 'GET_FLAGS',
  handle: async (master) => respond('GET_FLAGS', 'get_flags', { flags: masterFlags(master.config) }),
});

export const GET_MASTER = operatorCall({
  type: 'GET_MASTER',
  // Every master process is elected: there is no standby to fail over to.
  handle: async (master) =>
    respond('GET_MASTER', 'get_master', {
      master_info: masterInfo(master),
      start_time: STARTED,
      elected_time: STARTED,
    }),
});

export const GET_METRICS = operatorCall({
  type: 'GET_METRICS',
  field: 'get_metrics',
  payload: z.object({ timeout: z.object({ nanoseconds: z.coerce.number().int().nonnegative() }).optional() }),
  handle: async (master) => {
    const metrics = Object.entries(await operatorMetrics(master)).map(([name, value]) => ({ name, value }));
    return respond('GET_METRICS', 'get_metrics', { metrics });
  },
});

export const GET_LOGGING_LEVEL = operatorCall({
  type: 'GET_LOGGING_LEVEL',
  handle: async (master) =>
    respond('GET_LOGGING_LEVEL', 'get_logging_level', { level: await currentLoggingLevel(master) }),
});

export const SET_LOGGING_LEVEL = operatorCall({
  type: 'SET_LOGGING_LEVEL',
  field: 'set_logging_level',
  payload: z.object({
    level: z.number().int().nonnegative(),
    duration: z.object({ nanoseconds: z.coerce.number().int().positive() }),
  }),
  handle: async (master, { payload }) => {
    const until = master.now() + payload.duration.nanoseconds / 1e6;
    await master.registrar.settings.setLoggingLevel(payload.level, until);
    await applyLoggingLevel(master, payload.level);
    master.logger.info('Logging level set', { level: payload.level, until });
    return OK;
  },
});
