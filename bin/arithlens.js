#!/usr/bin/env node
// `npx arithlens`: runs the TypeScript CLI (src/cli/main.ts) through tsx's ESM loader, so a checkout
// works without a build step. tsconfig is not read: the CLI needs no path aliases, and the project's
// tsconfig extends a file that only exists after `svelte-kit sync`.
import { register } from 'tsx/esm/api';

register({ tsconfig: false });
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
