/**
 * The CDK app (`npx cdk synth`, `npx cdk deploy`): one stack per cluster, named by the `cluster`
 * context, with the settings of infra/settings.ts from the context (`-c key=value`). cdk-nag's
 * AwsSolutions checks run on every synth: a finding without a reasoned suppression fails it.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { MantleStack } from './mantle-stack.js';
import { clusterSettings } from './settings.js';

const app = new App();
const settings = clusterSettings((key) => app.node.tryGetContext(key));
new MantleStack(app, `Mantle-${settings.clusterName}`, {
  settings,
  description: `Mantle cluster ${settings.clusterName}: a serverless Mesos master and its GPU agents`,
  ...(settings.region || settings.account
    ? {
        env: {
          ...(settings.region ? { region: settings.region } : {}),
          ...(settings.account ? { account: settings.account } : {}),
        },
      }
    : {}),
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
