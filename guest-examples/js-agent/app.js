// @ts-check
/**
 * The example agent in JavaScript: the same steps and the same JSON report
 * as `guest-examples/rust-agent`. Given a task name as input it:
 *
 * 1. describes its sandbox (info, capabilities);
 * 2. runs a command and checks its output;
 * 3. streams a longer command's output as it is produced;
 * 4. writes a small project (three files, one streamed), lists and reads it back;
 * 5. persists a snapshot of the project;
 * 6. changes the project (edits, deletes, adds files);
 * 7. hydrates the snapshot back and checks every file is as it was;
 * 8. reads its network policy (or notes that the backend has none);
 * 9. asks a model for a one-word reply, if the policy defines one;
 * 10. logs each step to the host;
 *
 * and returns one JSON report.
 *
 * The imports are the WIT interfaces of `../../wit`; their TypeScript
 * declarations are generated into `types/` by `npm run types` (jco), so an
 * editor checks this file against them (`// @ts-check`).
 */

import { current } from 'openshell:sandbox/lifecycle@0.1.2';
import { run as runCommand, spawn } from 'openshell:sandbox/process@0.1.2';
import { writeFile, readFile, openWrite, listDir, exists, remove } from 'openshell:sandbox/fs@0.1.2';
import { persist, hydrate, delete as deleteSnapshot } from 'openshell:sandbox/snapshot@0.1.2';
import { getPolicy } from 'openshell:sandbox/network@0.1.2';
import { log } from 'openshell:sandbox/log@0.1.2';
import { aliases, complete } from 'openshell:sandbox/model@0.1.2';

/** @typedef {import('openshell:sandbox/types@0.1.2').Sandbox} Sandbox */
/** @typedef {import('openshell:sandbox/types@0.1.2').Error} SandboxError */

/**
 * The `error` record of a failed import call. Imports whose WIT result is
 * `result<T, error>` return `T` or throw: QuickJS throws the record itself,
 * jco's other engine wraps it as `{ payload }`; accept both.
 * @param {unknown} thrown
 * @returns {SandboxError | undefined}
 */
function sandboxError(thrown) {
  const e = /** @type {any} */ (thrown);
  const value = e && typeof e === 'object' && 'payload' in e ? e.payload : e;
  return value && typeof value === 'object' && 'code' in value && 'operation' in value ? value : undefined;
}

/**
 * `fs.write-file failed (not-found): ...`, as the Rust guest SDK prints it.
 * @param {SandboxError} error
 */
function describe(error) {
  return `${error.operation} failed (${codeName(error.code)}): ${error.message}`;
}

/**
 * `not-found`, ..., `backend:http-500`.
 * @param {SandboxError['code']} code
 */
function codeName(code) {
  return code.tag === 'backend' ? `backend:${code.val}` : code.tag;
}

/**
 * @param {string} name
 * @param {boolean} ok
 */
function step(name, ok) {
  log(ok ? 'info' : 'error', `step ${name}`, [['ok', ok ? 'true' : 'false']]);
}

// QuickJS has no TextEncoder/TextDecoder: UTF-8 by hand.
const utf8 = {
  /** @param {string} text */
  encode(text) {
    /** @type {number[]} */
    const out = [];
    for (const ch of text) {
      const c = /** @type {number} */ (ch.codePointAt(0));
      if (c < 0x80) out.push(c);
      else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
    return new Uint8Array(out);
  },
  /**
   * Decode, replacing invalid sequences with U+FFFD.
   * @param {Uint8Array} bytes
   */
  decode(bytes) {
    let out = '';
    for (let i = 0; i < bytes.length; ) {
      const b = bytes[i];
      const n = b < 0x80 ? 0 : b >= 0xc2 && b < 0xe0 ? 1 : b >= 0xe0 && b < 0xf0 ? 2 : b >= 0xf0 && b < 0xf5 ? 3 : -1;
      let c = n === 0 ? b : n === 1 ? b & 31 : n === 2 ? b & 15 : b & 7;
      let j = 1;
      for (; n > 0 && j <= n && i + j < bytes.length && (bytes[i + j] & 0xc0) === 0x80; j++) {
        c = (c << 6) | (bytes[i + j] & 63);
      }
      const valid = n >= 0 && j === n + 1 && !(n === 2 && (c < 0x800 || (c >= 0xd800 && c < 0xe000))) && !(n === 3 && (c < 0x10000 || c > 0x10ffff));
      out += valid ? String.fromCodePoint(c) : '\ufffd';
      i += valid ? n + 1 : Math.max(1, j);
    }
    return out;
  },
};
const WRITE = { createParents: true, exclusive: false };

/**
 * @param {Sandbox} sb
 * @param {string} path
 * @param {string} text
 */
function write(sb, path, text) {
  return writeFile(sb, path, utf8.encode(text), WRITE);
}

/**
 * @param {Sandbox} sb
 * @param {string} path
 */
function readText(sb, path) {
  return utf8.decode(readFile(sb, path, undefined));
}

/**
 * The model step's report value: `none` when the policy defines no model,
 * else the default model's reply to a one-word prompt, or `error: <code>`.
 * QuickJS has no `fetch`; the host makes the request.
 * @returns {string}
 */
function askModel() {
  if (aliases().length === 0) return 'none';
  /**
   * @param {'system' | 'user'} role
   * @param {string} content
   */
  const say = (role, content) => ({ role, content, toolCalls: [], toolCallId: undefined });
  let answer;
  try {
    answer = complete({
      model: '', // the policy's default alias
      messages: [say('system', 'You are terse.'), say('user', 'Reply with one word: pong')],
      tools: [],
      stop: [],
    });
  } catch (thrown) {
    const error = sandboxError(thrown);
    if (!error) throw thrown;
    return `error: ${codeName(error.code)}`;
  }
  // Only ASCII whitespace, so that the four example agents trim alike.
  return (answer.message.content ?? '').replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
}

/**
 * Do the agent's job (the world's `run` export). Returning a string is
 * `ok`; throwing a string is `err`.
 * @param {string} input
 * @returns {string}
 */
export function run(input) {
  try {
    return agent(input);
  } catch (thrown) {
    const error = sandboxError(thrown);
    throw error ? describe(error) : String(thrown);
  }
}

/** @param {string} input */
function agent(input) {
  const task = input.trim() || 'demo';
  const sb = current();
  /** @type {Record<string, unknown>} */
  const report = { agent: 'js', task };

  // 1. The sandbox.
  const info = sb.info();
  const caps = sb.capabilities();
  report.sandbox = { backend: info.backend, workdir: info.workdir, owned: info.owned };
  report.capabilities = {
    streaming: caps.streaming,
    pty: caps.pty,
    snapshots: caps.snapshots,
    network_policy: caps.networkPolicy,
  };

  // 2. A command.
  const hello = runCommand(sb, ['echo', `hello from ${task}`], { env: [] });
  const stdout = utf8.decode(hello.stdout);
  const execOk = hello.exitCode === 0 && !hello.timedOut && stdout === `hello from ${task}\n`;
  step('exec', execOk);
  report.exec = { ok: execOk, stdout: stdout.trimEnd() };

  // 3. Streaming.
  const p = spawn(sb, ['sh', '-c', 'for i in 1 2 3 4 5; do echo tick $i; sleep 0.05; done'], { env: [] });
  let chunks = 0;
  let text = '';
  let code = -1;
  for (;;) {
    const event = p.nextEvent(undefined);
    if (event.tag === 'stdout') {
      chunks += 1;
      text += utf8.decode(event.val);
    } else if (event.tag === 'exited') {
      code = event.val.exitCode;
      break;
    }
  }
  p[Symbol.dispose]();
  const lines = text.split('\n').filter((line, i, all) => i < all.length - 1 || line !== '').length;
  const streamOk = code === 0 && lines === 5 && chunks >= 2;
  step('stream', streamOk);
  report.stream = { ok: streamOk, lines, exit_code: code };

  // 4. Files.
  const project = `${task}-project`;
  write(sb, `${project}/README.md`, `# ${task}\n`);
  write(sb, `${project}/src/main.txt`, 'first version\n');
  const w = openWrite(sb, `${project}/data.bin`, WRITE);
  for (let i = 0; i < 16; i++) {
    w.write(new Uint8Array(4096).fill(i));
  }
  const data = w.finish();
  w[Symbol.dispose]();
  const dataBytes = Number(data.size); // u64: a number in QuickJS, a bigint in jco's types
  const listed = listDir(sb, project)
    .map((entry) => entry.name)
    .sort();
  const readBack = readText(sb, `${project}/src/main.txt`) === 'first version\n';
  const filesOk = readBack && dataBytes === 16 * 4096 && listed.join('/') === 'README.md/data.bin/src';
  step('files', filesOk);
  report.files = { ok: filesOk, listed, data_bytes: dataBytes, read_back: readBack };

  // 5. Snapshot.
  const snap = persist(sb, project, []);
  step('snapshot', true);
  report.snapshot = { ok: true, entries: snap.entries, sha256: snap.sha256.length === 64 };

  // 6. Change things.
  write(sb, `${project}/src/main.txt`, 'second version\n');
  remove(sb, `${project}/README.md`, false);
  write(sb, `${project}/scratch.tmp`, 'temporary\n');
  const changed = readText(sb, `${project}/src/main.txt`) === 'second version\n';
  step('mutate', changed);
  report.mutate = { ok: changed };

  // 7. Hydrate and check.
  hydrate(sb, snap.id, project, 'replace');
  const mainRestored = readText(sb, `${project}/src/main.txt`) === 'first version\n';
  const readmeRestored = exists(sb, `${project}/README.md`);
  const scratchRemoved = !exists(sb, `${project}/scratch.tmp`);
  const dataBack = readFile(sb, `${project}/data.bin`, undefined);
  const dataOk = dataBack.length === 16 * 4096 && dataBack.every((b, i) => b === Math.floor(i / 4096));
  const hydrateOk = mainRestored && readmeRestored && scratchRemoved && dataOk;
  step('hydrate', hydrateOk);
  report.hydrate = {
    ok: hydrateOk,
    content_restored: mainRestored && dataOk,
    deleted_file_back: readmeRestored,
    new_file_removed: scratchRemoved,
  };
  try {
    deleteSnapshot(snap.id);
  } catch {
    // Best effort, as in the Rust agent.
  }

  // 8. Network policy.
  let policy;
  try {
    policy = `v${getPolicy(sb).activeVersion}`;
  } catch (thrown) {
    const tag = sandboxError(thrown)?.code.tag;
    if (tag === 'unsupported') policy = 'unsupported';
    else if (tag === 'permission-denied') policy = 'denied';
    else if (tag === 'not-found') policy = 'none';
    else throw thrown;
  }
  step('network', true);
  report.network = { ok: true, policy };

  // 9. A model.
  report.model = askModel();
  step('model', true);

  report.ok = execOk && streamOk && filesOk && changed && hydrateOk;
  sb[Symbol.dispose]();
  return JSON.stringify(report);
}
