// Preloaded (`node --import ./jco-preopen.mjs .../jco.js ...`) when jco
// generates TypeScript declarations.
//
// jco 1.35.0 reads WIT through its own WebAssembly build of wasm-tools,
// running on @bytecodealliance/preview2-shim 0.26, which starts with no
// preopened directories: `jco types wit` then fails with "failed to read
// path for WIT ... (os error 44)". This gives every copy of the shim in
// jco's node_modules the filesystem root, as older shims did by default.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const main = process.argv[1] ?? '';
const cut = main.lastIndexOf('/node_modules/');
const root = cut >= 0 ? main.slice(0, cut + '/node_modules'.length) : join(process.cwd(), 'node_modules');

/** @param {string} dir a node_modules folder */
function* shims(dir) {
  const shim = join(dir, '@bytecodealliance', 'preview2-shim', 'dist', 'nodejs', 'filesystem.js');
  if (existsSync(shim)) yield shim;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const packages = entry.name.startsWith('@')
      ? readdirSync(join(dir, entry.name)).map((name) => join(dir, entry.name, name))
      : [join(dir, entry.name)];
    for (const pkg of packages) {
      const nested = join(pkg, 'node_modules');
      if (existsSync(nested)) yield* shims(nested);
    }
  }
}

for (const shim of shims(root)) {
  const fs = await import(pathToFileURL(shim).href);
  if (typeof fs._addPreopen === 'function') fs._addPreopen('/', '/');
}
