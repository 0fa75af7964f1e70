#!/usr/bin/env node
// The `mantle` command of the installed package (compiled to dist/cli/bin.js); in the repository, bin/mantle.js
// runs the same main() from the TypeScript sources.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { main } = await import('./mantle.js');
process.exitCode = await main(process.argv.slice(2));
