/**
 * `mantle quota get|set` and `mantle weights get|set`: a role's quota (GET_QUOTA, UPDATE_QUOTA) and weight
 * (GET_WEIGHTS, UPDATE_WEIGHTS) through the operator API. As Mesos's UPDATE_QUOTA does, `quota set` replaces the
 * role's whole quota: what a flag leaves out is the default (no guarantee, no limit).
 */
import { Command } from 'commander';
import type { QuotaConfig, Scalar, WeightInfo } from '../sdk/operator-types.js';
import {
  act,
  EXIT,
  operatorClient,
  print,
  printJson,
  withConnection,
  type ConnectionFlags,
  type Outcome,
} from './command.js';
import { table } from './job-format.js';
import { UsageError } from './jobs-client.js';
import { quantitiesText, quantity } from './operator-format.js';
import { parseQuantities } from './quantities.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

function scalars(quantities: Record<string, number>): Record<string, Scalar> {
  return Object.fromEntries(Object.entries(quantities).map(([name, value]) => [name, { value }]));
}

export function quotaTable(configs: readonly QuotaConfig[]): string[] {
  if (configs.length === 0) return ['no quota set'];
  return table(
    ['ROLE', 'GUARANTEES', 'LIMITS'],
    configs.map((config) => [config.role, quantitiesText(config.guarantees), quantitiesText(config.limits)]),
  );
}

function quotaGet(outcome: Outcome): Command {
  const command = withConnection(
    new Command('get').description("every role's quota, or these roles'").argument('[roles...]', 'only these roles'),
  );
  return act(command, outcome, async function (roles: string[]) {
    const flags = this.opts<ConnectionFlags>();
    const status = await operatorClient(flags).getQuota();
    const configs = (status.configs ?? []).filter((config) => roles.length === 0 || roles.includes(config.role));
    if (flags.json) printJson(roles.length === 0 ? { status } : { status: { configs } });
    else print(quotaTable(configs));
    return EXIT.ok;
  });
}

interface QuotaSetFlags extends ConnectionFlags {
  readonly guarantee?: string[];
  readonly limit?: string[];
  readonly force?: boolean;
}

function quotaSet(outcome: Outcome): Command {
  const command = withConnection(
    new Command('set')
      .description("replace a role's quota (no flags: no guarantee, no limit)")
      .argument('<role>', 'a top-level role')
      .option('--guarantee <name=n,...>', 'resources set aside for the role (repeatable): cpus=4,gpus=1', collect)
      .option('--limit <name=n,...>', 'the most the role may use (repeatable): cpus=16,mem=65536', collect)
      .option('--force', "skip the checks against the cluster's capacity and the role's use"),
    false,
  );
  return act(command, outcome, async function (role: string) {
    const flags = this.opts<QuotaSetFlags>();
    const config: QuotaConfig = {
      role,
      guarantees: scalars(parseQuantities('guarantee', flags.guarantee ?? [])),
      limits: scalars(parseQuantities('limit', flags.limit ?? [])),
    };
    const client = operatorClient(flags);
    await client.updateQuota([config], { force: flags.force === true });
    print([
      `quota of role ${role}: guarantees ${quantitiesText(config.guarantees)}, limits ${quantitiesText(config.limits)}`,
    ]);
    return EXIT.ok;
  });
}

export function quotaCommand(outcome: Outcome): Command {
  return new Command('quota')
    .description("roles' quota: get, set (Mesos GET_QUOTA, UPDATE_QUOTA)")
    .addCommand(quotaGet(outcome))
    .addCommand(quotaSet(outcome));
}

function weightsGet(outcome: Outcome): Command {
  const command = withConnection(new Command('get').description('the roles whose weight is not the default 1'));
  return act(command, outcome, async function () {
    const flags = this.opts<ConnectionFlags>();
    const weights = await operatorClient(flags).getWeights();
    if (flags.json) printJson({ weight_infos: weights });
    else if (weights.length === 0) print(['every role has the default weight 1']);
    else
      print(
        table(
          ['ROLE', 'WEIGHT'],
          weights.map((info) => [info.role, quantity(info.weight)]),
        ),
      );
    return EXIT.ok;
  });
}

/** `gpu-team=3` → {role, weight}; a weight is a positive number, as Mesos requires. */
export function parseWeight(text: string): WeightInfo {
  const match = /^([^=\s]+)=([0-9.eE+-]+)$/.exec(text.trim());
  const weight = Number(match?.[2]);
  if (!match?.[1] || !Number.isFinite(weight) || weight <= 0) {
    throw new UsageError(`'${text}' is not role=weight with a positive weight`);
  }
  return { role: match[1], weight };
}

function weightsSet(outcome: Outcome): Command {
  const command = withConnection(
    new Command('set')
      .description("set roles' weights (1 is the default)")
      .argument('<role=weight...>', 'e.g. gpu-team=3 batch=0.5'),
    false,
  );
  return act(command, outcome, async function (pairs: string[]) {
    const weights = pairs.map(parseWeight);
    await operatorClient(this.opts<ConnectionFlags>()).updateWeights(weights);
    print(weights.map((info) => `weight of role ${info.role}: ${quantity(info.weight)}`));
    return EXIT.ok;
  });
}

export function weightsCommand(outcome: Outcome): Command {
  return new Command('weights')
    .description("roles' weights: get, set (Mesos GET_WEIGHTS, UPDATE_WEIGHTS)")
    .addCommand(weightsGet(outcome))
    .addCommand(weightsSet(outcome));
}
