#!/usr/bin/env node
// The `mantle` command. Mantle runs its TypeScript directly (tsx), without a build step.
import { register } from 'tsx/esm/api';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { main } = await import('../cli/mantle.ts');
process.exitCode = await main(process.argv.slice(2));
