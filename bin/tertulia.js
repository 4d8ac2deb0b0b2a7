#!/usr/bin/env node
// Entry shim: runs the CLI from a bundle of the TypeScript sources (bundle.mjs),
// or from the sources through the TypeScript loader when no bundle can be
// built or TERTULIA_FROM_SOURCES=1 asks for it (source-level stack traces).
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bundledCli } from './bundle.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bundle = process.env.TERTULIA_FROM_SOURCES === '1' ? null : await bundledCli(root);
if (bundle) {
  await import(pathToFileURL(bundle).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../runtime/cli/main.ts');
}
