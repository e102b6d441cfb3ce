// @ts-check
/**
 * An openshell-wasm agent in JavaScript.
 *
 * `run` gets the text given to `openshell-wasm run --input` and returns the
 * run's result. This one writes the input to a file in its sandbox, counts
 * its words with `wc -w` there, and returns what `wc` printed. Everything it
 * can do is in `wit/` (the `openshell:sandbox/agent` world); `./build.sh`
 * writes TypeScript declarations of it to `types/` and checks this file
 * against them.
 *
 * The QuickJS engine has no TextEncoder: strings reach files as UTF-8 bytes
 * through `utf8()` below.
 */

import { current } from 'openshell:sandbox/lifecycle@0.1.2';
import { writeFile } from 'openshell:sandbox/fs@0.1.2';
import { run as runCommand } from 'openshell:sandbox/process@0.1.2';
import { log } from 'openshell:sandbox/log@0.1.2';

/**
 * Returning a string is the run's result; throwing a string is its error.
 * @param {string} input
 * @returns {string}
 */
export function run(input) {
  try {
    // The sandbox the host bound to this run.
    const sandbox = current();

    // Paths are relative to the sandbox's workdir.
    writeFile(sandbox, 'input.txt', utf8(input), { createParents: true, exclusive: false });

    // Commands are argv lists, never shell strings.
    const out = runCommand(sandbox, ['wc', '-w', 'input.txt'], { env: [] });
    log('info', 'counted words', [['exit_code', String(out.exitCode)]]);
    const text = String.fromCharCode(...out.stdout); // wc prints ASCII
    if (out.exitCode !== 0) throw `wc failed: ${String.fromCharCode(...out.stderr)}`;
    sandbox[Symbol.dispose]();
    return text.trim();
  } catch (thrown) {
    // Sandbox calls throw their `error` record (jco's SpiderMonkey engine
    // wraps it as `{ payload }`).
    const e = /** @type {any} */ (thrown);
    const error = e?.payload ?? e;
    throw error?.operation ? `${error.operation} failed: ${error.message}` : String(thrown);
  }
}

/** @param {string} text */
function utf8(text) {
  return Uint8Array.from(unescape(encodeURIComponent(text)), (c) => c.charCodeAt(0));
}
