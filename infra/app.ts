/** The CDK app (`npx cdk synth`, `npx cdk deploy`): one stack per cluster, named by the `cluster` context. */
import { App } from 'aws-cdk-lib';
import { MantleStack } from './mantle-stack.js';

const app = new App();
const clusterName = String(app.node.tryGetContext('cluster') ?? 'mantle');
const deletionProtection = String(app.node.tryGetContext('deletionProtection') ?? 'true') !== 'false';
new MantleStack(app, `Mantle-${clusterName}`, {
  clusterName,
  deletionProtection,
  description: `Mantle cluster ${clusterName}: a serverless Mesos master`,
});
