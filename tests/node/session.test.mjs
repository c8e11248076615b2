// The editor's side of a debug session, end to end: DebugClient from
// @vscode/debugadapter-testsupport (a DAP client we did not write) drives the real
// ptvsd-dap binary, attached over wss (websockify with a test CA) to real ptvsd running
// tests/programs/target.py from a COPY of tests/programs (the remote root), while the
// editor's paths are those of tests/programs itself (the local root). Every message the
// adapter sends is validated against the official DAP schema (validating-client.mjs).
//
// tests/editor_debugclient.rs starts the debuggee and the relay and runs this file with
// the target in the environment:
//   PTVSD_DAP_TEST_ADAPTER          the ptvsd-dap binary
//   PTVSD_DAP_TEST_URL              wss://SECRET@127.0.0.1:PORT/ptvsd
//   PTVSD_DAP_TEST_CA_FILE          PEM of the CA that signed the relay's certificate
//   PTVSD_DAP_TEST_LOCAL_ROOT       tests/programs (absolute)
//   PTVSD_DAP_TEST_REMOTE_ROOT      the copy the debuggee runs from
//   PTVSD_DAP_TEST_BREAKPOINT_LINE  the line of `# MARK: compute-total` in app/lib.py
//   PTVSD_DAP_TEST_PID              the debuggee's pid
//   PTVSD_DAP_TEST_DIALECT          binary | json
//   PTVSD_DAP_TEST_PROTOCOL_VERSION 6 | 7 | 8
//   PTVSD_DAP_TEST_PEER             e.g. py3.11-ptvsd3.2.1 (for messages)
// Without them the tests are skipped. The tests run in order against the same
// debuggee: the second re-attaches to the process the first detached from, the third
// kills an adapter (SIGTERM) while stopped and attaches again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { ValidatingDebugClient } from './validating-client.mjs';

const env = process.env;
const CONFIGURED = Boolean(env.PTVSD_DAP_TEST_ADAPTER && env.PTVSD_DAP_TEST_URL);
const SKIP = CONFIGURED ? false : 'run through `cargo test --test editor_debugclient` (no PTVSD_DAP_TEST_* target)';

/** How long to wait for anything the debuggee has to do (stop, answer, print). */
const WAIT = 20_000;

const target = CONFIGURED
  ? {
      adapter: env.PTVSD_DAP_TEST_ADAPTER,
      url: env.PTVSD_DAP_TEST_URL,
      caFile: env.PTVSD_DAP_TEST_CA_FILE,
      localRoot: env.PTVSD_DAP_TEST_LOCAL_ROOT,
      remoteRoot: env.PTVSD_DAP_TEST_REMOTE_ROOT,
      breakpointLine: Number(env.PTVSD_DAP_TEST_BREAKPOINT_LINE),
      pid: Number(env.PTVSD_DAP_TEST_PID),
      dialect: env.PTVSD_DAP_TEST_DIALECT,
      protocolVersion: Number(env.PTVSD_DAP_TEST_PROTOCOL_VERSION),
      peer: env.PTVSD_DAP_TEST_PEER ?? 'ptvsd',
    }
  : null;

// ---- the debuggee's source, as the editor sees it (local paths) -----------------------

const local = CONFIGURED
  ? {
      lib: path.join(target.localRoot, 'app', 'lib.py'),
      main: path.join(target.localRoot, 'target.py'),
    }
  : null;

/** 1-based line of `file` whose text ends with `# MARK: <mark>`. */
function markLine(file, mark) {
  return lineWhere(file, (text) => text.trimEnd().endsWith(`# MARK: ${mark}`), `# MARK: ${mark}`);
}

/** 1-based line of `file` that contains `needle` (exactly once in the file). */
function lineContaining(file, needle) {
  return lineWhere(file, (text) => text.includes(needle), needle);
}

function lineWhere(file, predicate, what) {
  const hits = readFileSync(file, 'utf8')
    .split('\n')
    .map((text, index) => ({ text, line: index + 1 }))
    .filter(({ text }) => predicate(text));
  assert.equal(hits.length, 1, `${what} should be on exactly one line of ${file}`);
  return hits[0].line;
}

const lines = CONFIGURED
  ? {
      total: target.breakpointLine,
      step: markLine(local.lib, 'compute-step'),
      afterStep: markLine(local.lib, 'compute-step') + 1,
      computeFirst: lineContaining(local.lib, "data = [n, n * 2, {'k': n}]"),
      call: lineContaining(local.main, 'r = compute(i)'),
    }
  : null;

// ---- helpers ----------------------------------------------------------------------------

async function startClient() {
  // DebugClient spawns `runtime [executable]`: exactly one argument for the binary.
  const dc = new ValidatingDebugClient(target.adapter, '--log-level=warn', 'ptvsd-legacy', { env }, true);
  dc.defaultTimeout = WAIT;
  await dc.start();
  return dc;
}

/** The last messages the adapter sent, for failure messages. */
function transcript(dc, count = 40) {
  const tail = dc.received.slice(-count).map((m) => JSON.stringify(m));
  return `last ${tail.length} of ${dc.received.length} messages from the adapter:\n  ${tail.join('\n  ')}`;
}

/**
 * Ends a client after its test, passed or failed, as an editor would: disconnect if the
 * adapter still runs (so a failed test does not leave the app attached to a dead
 * adapter, failing the next test too), then kill it.
 */
async function shutdown(dc, label) {
  const proc = dc.adapterProcess;
  if (proc && proc.exitCode === null && proc.signalCode === null) {
    let timer;
    const late = new Promise((resolve) => {
      timer = setTimeout(resolve, 5_000);
    });
    await Promise.race([dc.disconnectRequest({}).catch(() => {}), late]);
    clearTimeout(timer);
  }
  dc.stopAdapter();
  saveTranscript(dc, label);
}

/** With PTVSD_DAP_TEST_TRANSCRIPT_DIR set, writes every message of `dc` there. */
function saveTranscript(dc, label) {
  const dir = env.PTVSD_DAP_TEST_TRANSCRIPT_DIR;
  if (dir) {
    const file = path.join(dir, `${target.peer}-${label}.jsonl`);
    writeFileSync(file, dc.received.map((m) => JSON.stringify(m)).join('\n') + '\n');
  }
}

/** Runs `body`; a failure carries the adapter's recent messages. */
async function withTranscript(dc, body) {
  try {
    return await body();
  } catch (error) {
    error.message = `${error.message}\n${transcript(dc)}`;
    throw error;
  }
}

/** initialize + attach; resolves once `initialized` arrived. Checks the attach outcome. */
async function attach(dc) {
  // Events are not buffered by DebugClient: wait for them before the request that
  // triggers them.
  const initialized = dc.waitForEvent('initialized', WAIT);
  const processEvent = dc.waitForEvent('process', WAIT);
  const init = await dc.initializeRequest();
  assert.equal(init.body.supportsConfigurationDoneRequest, true, 'initialize: supportsConfigurationDoneRequest');
  assert.equal(init.body.supportsEvaluateForHovers, true, 'initialize: supportsEvaluateForHovers');
  const attached = await dc.attachRequest({
    type: 'ptvsd-legacy',
    request: 'attach',
    name: `attach to ${target.peer}`,
    url: target.url,
    caFile: target.caFile,
    pathMappings: [{ localRoot: target.localRoot, remoteRoot: target.remoteRoot }],
  });
  assert.equal(attached.success, true);
  const proc = await processEvent;
  assert.equal(proc.body.systemProcessId, target.pid, 'process event: the debuggee pid');
  assert.equal(proc.body.startMethod, 'attach', 'process event: startMethod');
  assert.equal(proc.body.isLocalProcess, false, 'process event: isLocalProcess');
  await initialized;
  const consoleText = dc.outputText('console');
  assert.match(
    consoleText,
    new RegExp(`Attached to process ${target.pid} .*ptvsd protocol ${target.protocolVersion} \\(${target.dialect},`),
    'the console names the process and the wire dialect',
  );
  assert.ok(!consoleText.includes(target.url), 'the secret must not be shown');
}

/**
 * setBreakpoints on the compute-total line of the LOCAL app/lib.py; checks it bound: in the
 * answer, or (set during the attach, answered at once unverified) by a `breakpoint` event.
 */
async function setComputeBreakpoint(dc) {
  const events = [];
  const onBreakpoint = (e) => events.push(e);
  dc.on('breakpoint', onBreakpoint);
  const response = await dc.setBreakpointsRequest({
    source: { path: local.lib },
    breakpoints: [{ line: lines.total }],
  });
  const bps = response.body.breakpoints;
  assert.equal(bps.length, 1, 'one breakpoint answered');
  assert.equal(bps[0].line, lines.total, 'breakpoint line');
  assert.equal(bps[0].source?.path, local.lib, 'breakpoint source: the local path');
  assert.equal(typeof bps[0].id, 'number', 'breakpoint id');
  const bound = (e) => e.body.breakpoint.id === bps[0].id && e.body.breakpoint.verified === true;
  if (!bps[0].verified) {
    assert.equal(bps[0].reason, 'pending', `an unverified breakpoint says why: ${JSON.stringify(bps[0])}`);
    while (!events.some(bound)) {
      await dc.waitForEvent('breakpoint');
    }
    const event = events.find(bound);
    assert.equal(event.body.reason, 'changed', 'the binding is a changed breakpoint');
    assert.equal(event.body.breakpoint.line, lines.total, 'bound on the same line');
  }
  dc.removeListener('breakpoint', onBreakpoint);
  return { ...bps[0], verified: true };
}

/** Runs `request` (a function) and returns the `stopped` event it causes. */
async function stopAfter(dc, request) {
  const stopped = dc.waitForEvent('stopped', WAIT);
  await request();
  return stopped;
}

async function stack(dc, threadId) {
  const response = await dc.stackTraceRequest({ threadId });
  const frames = response.body.stackFrames;
  assert.ok(frames.length >= 2, `a stack of at least compute and main: ${JSON.stringify(frames)}`);
  return frames;
}

/** Asserts frame `frame` is `name` at `file`:`line` (local paths). */
function assertFrame(frame, name, file, line, what) {
  assert.equal(frame.name, name, `${what}: function`);
  assert.equal(frame.source?.path, file, `${what}: local source path`);
  assert.equal(frame.source?.name, path.basename(file), `${what}: source name`);
  assert.equal(frame.line, line, `${what}: line`);
}

/** A step request that must stop with reason `step`; returns the new top frames. */
async function stepAndStop(dc, kind, threadId) {
  const stopped = await stopAfter(dc, () => dc[`${kind}Request`]({ threadId }));
  assert.equal(stopped.body.reason, 'step', `${kind}: stopped reason`);
  assert.equal(stopped.body.threadId, threadId, `${kind}: the stepping thread stops`);
  return stack(dc, threadId);
}

async function variables(dc, variablesReference) {
  assert.ok(variablesReference > 0, 'expandable');
  const response = await dc.variablesRequest({ variablesReference });
  return response.body.variables;
}

function byName(vars, name, where) {
  const found = vars.find((v) => v.name === name);
  assert.ok(found, `${where}: no variable ${name} in ${JSON.stringify(vars.map((v) => v.name))}`);
  return found;
}

async function evaluate(dc, expression, frameId) {
  const response = await dc.evaluateRequest({ expression, frameId, context: 'watch' });
  return response.body;
}

/** Waits until the program's stdout (output events) matches `pattern`. */
async function waitForStdout(dc, pattern, what) {
  const deadline = Date.now() + WAIT;
  for (;;) {
    const text = dc.outputText('stdout');
    const match = text.match(pattern);
    if (match) {
      return match;
    }
    if (Date.now() > deadline) {
      assert.fail(`${what}: no stdout output matching ${pattern} within ${WAIT} ms; stdout so far: ${JSON.stringify(text)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The program's stdout as the editor got it must be exactly what target.py printed:
 * whole lines `result i 10i+1`, each once, i counting up by one. (The first line may be
 * cut if the attach came in the middle of a print.) Returns the i seen.
 */
function assertResultLines(dc, what) {
  const text = dc.outputText('stdout');
  let complete = text.slice(0, text.lastIndexOf('\n') + 1).split('\n').slice(0, -1);
  if (complete.length > 0 && !complete[0].startsWith('result')) {
    complete = complete.slice(1);
  }
  const shown = JSON.stringify(text.length > 300 ? `${text.slice(0, 300)}…` : text);
  assert.ok(complete.length > 0, `${what}: no complete stdout line yet: ${shown}`);
  const seen = complete.map((line) => {
    const match = line.match(/^result (\d+) (\d+)$/);
    assert.ok(match, `${what}: stdout line ${JSON.stringify(line)} is not one "result i 10i+1" line as printed; stdout: ${shown}`);
    const [i, r] = [Number(match[1]), Number(match[2])];
    assert.equal(r, 10 * i + 1, `${what}: ${line}`);
    return i;
  });
  seen.forEach((i, k) => {
    if (k > 0) assert.equal(i, seen[k - 1] + 1, `${what}: result ${i} follows result ${seen[k - 1]}; stdout: ${shown}`);
  });
  return seen;
}

/** Hits the compute breakpoint after configurationDone; returns the stopped thread and top frame. */
async function configureAndHit(dc, breakpoint) {
  const stopped = await stopAfter(dc, () => dc.configurationDoneRequest());
  assert.equal(stopped.body.reason, 'breakpoint', 'stopped reason');
  assert.deepEqual(stopped.body.hitBreakpointIds, [breakpoint.id], 'stopped: hitBreakpointIds');
  const threadId = stopped.body.threadId;
  const frames = await stack(dc, threadId);
  assertFrame(frames[0], 'compute', local.lib, lines.total, 'top frame at the breakpoint');
  assertFrame(frames[1], 'main', local.main, lines.call, 'second frame');
  return { threadId, frames };
}

/** disconnect; the adapter answers and then exits by itself. */
async function disconnect(dc) {
  const proc = dc.adapterProcess;
  const exited = new Promise((resolve) => {
    if (proc.exitCode !== null) resolve(proc.exitCode);
    else proc.once('exit', (code) => resolve(code));
  });
  await dc.disconnectRequest({});
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(() => resolve('still running after 5 s'), 5_000);
  });
  const code = await Promise.race([exited, late]);
  clearTimeout(timer);
  assert.equal(code, 0, 'the adapter exits with 0 after disconnect');
  dc.stopAdapter();
}

function assertProcessAlive(pid) {
  assert.doesNotThrow(() => process.kill(pid, 0), `the debuggee (pid ${pid}) is still running`);
}

// ---- the tests ------------------------------------------------------------------------

test(`attach, break, inspect, step and continue (${target?.peer ?? 'no target'})`, { skip: SKIP, timeout: 180_000 }, async () => {
  const dc = await startClient();
  try {
    await withTranscript(dc, async () => {
      // 1. initialize and attach over wss with a path mapping.
      await attach(dc);

      // 2. a breakpoint in app/lib.py (local path), then configurationDone; 3. the hit.
      const breakpoint = await setComputeBreakpoint(dc);
      const { threadId, frames } = await configureAndHit(dc, breakpoint);

      // ptvsd reports the loaded modules after the attach; by the hit they are all in.
      const modules = dc.eventsNamed('module').map((e) => e.body.module);
      assert.ok(
        modules.some((m) => m.path === local.lib && m.name === 'lib.py'),
        `a module event names app/lib.py by its local path: ${JSON.stringify(modules.filter((m) => m.name === 'lib.py'))}`,
      );
      assert.ok(!modules.some((m) => m.path.startsWith(target.remoteRoot)), 'no module event shows a remote path');

      const threads = (await dc.threadsRequest()).body.threads;
      assert.ok(
        threads.some((t) => t.id === threadId),
        `threads lists the stopped thread ${threadId}: ${JSON.stringify(threads)}`,
      );

      // 5. variables, with nested expansion.
      const scopes = (await dc.scopesRequest({ frameId: frames[0].id })).body.scopes;
      const locals = scopes.find((s) => s.name === 'Locals');
      assert.ok(locals, `a Locals scope: ${JSON.stringify(scopes)}`);
      assert.equal(locals.presentationHint, 'locals');
      const globalsScope = scopes.find((s) => s.name === 'Globals');
      assert.ok(globalsScope, `a Globals scope: ${JSON.stringify(scopes)}`);
      const globalNames = (await variables(dc, globalsScope.variablesReference)).map((v) => v.name);
      for (const name of ['Point', 'compute', '__name__']) {
        assert.ok(globalNames.includes(name), `Globals of app/lib.py has ${name}: ${JSON.stringify(globalNames)}`);
      }
      const vars = await variables(dc, locals.variablesReference);
      const names = vars.map((v) => v.name);
      for (const name of ['n', 'data', 'info', 'pt']) {
        assert.ok(names.includes(name), `Locals has ${name}: ${JSON.stringify(names)}`);
      }
      assert.ok(!names.includes('total'), `total is not assigned yet at the breakpoint: ${JSON.stringify(names)}`);

      const nVar = byName(vars, 'n', 'Locals');
      assert.equal(nVar.type, 'int');
      assert.match(nVar.value, /^\d+$/, 'n is a number');
      assert.equal(nVar.variablesReference, 0, 'an int does not expand');
      const n = Number(nVar.value);

      const data = byName(vars, 'data', 'Locals');
      assert.equal(data.type, 'list');
      assert.equal(data.value, `[${n}, ${2 * n}, {'k': ${n}}]`);
      assert.equal(data.evaluateName, 'data');
      const items = await variables(dc, data.variablesReference);
      const indexed = items.filter((v) => /^\[\d+\]$/.test(v.name));
      assert.deepEqual(
        indexed.map((v) => [v.name, v.value]),
        [
          ['[0]', String(n)],
          ['[1]', String(2 * n)],
          ['[2]', `{'k': ${n}}`],
        ],
        'data expands to its items',
      );
      const inner = indexed[2];
      assert.equal(inner.type, 'dict');
      const innerItems = await variables(dc, inner.variablesReference);
      assert.deepEqual(
        innerItems.filter((v) => v.name.startsWith('[')).map((v) => [v.name, v.value]),
        [["['k']", String(n)]],
        'data[2] expands to its key',
      );

      const info = byName(vars, 'info', 'Locals');
      assert.equal(info.type, 'dict');
      const infoItems = await variables(dc, info.variablesReference);
      const infoPairs = Object.fromEntries(infoItems.filter((v) => v.name.startsWith('[')).map((v) => [v.name, v.value]));
      assert.deepEqual(
        infoPairs,
        { "['n']": String(n), "['square']": String(n * n), "['label']": `'item-${n}'` },
        'info expands to its keys',
      );

      const pt = byName(vars, 'pt', 'Locals');
      assert.equal(pt.type, 'Point');
      assert.equal(pt.value, `Point(${n}, ${n + 1})`);
      const ptAttrs = await variables(dc, pt.variablesReference);
      assert.equal(byName(ptAttrs, 'x', 'pt').value, String(n));
      assert.equal(byName(ptAttrs, 'y', 'pt').value, String(n + 1));

      // 6. evaluate in the frame, and an error with Python's message.
      const evaluated = await evaluate(dc, 'n * 100 + len(data)', frames[0].id);
      assert.equal(evaluated.result, String(n * 100 + 3), 'evaluate n * 100 + len(data)');
      assert.equal(evaluated.variablesReference, 0);
      const list = await evaluate(dc, 'data', frames[0].id);
      assert.ok(list.variablesReference > 0, 'an evaluated list expands');
      assert.equal((await evaluate(dc, 'i', frames[1].id)).result, String(n), 'evaluate in the caller frame (main: i == n)');
      await assert.rejects(
        evaluate(dc, 'no_such_name_xyz + 1', frames[0].id),
        (error) => {
          assert.match(error.message, /name 'no_such_name_xyz' is not defined/);
          return true;
        },
        'evaluating an unknown name fails with the NameError',
      );

      // 7. step over (+1 line), step in (nothing to enter: the next line), step out (to main).
      let top = await stepAndStop(dc, 'next', threadId);
      assertFrame(top[0], 'compute', local.lib, lines.step, 'after next');
      assert.equal((await evaluate(dc, 'total', top[0].id)).result, String(10 * n), 'next ran the breakpoint line');

      top = await stepAndStop(dc, 'stepIn', threadId);
      assertFrame(top[0], 'compute', local.lib, lines.afterStep, 'after stepIn on a line without calls');
      assert.equal((await evaluate(dc, 'total', top[0].id)).result, String(10 * n + 1));

      top = await stepAndStop(dc, 'stepOut', threadId);
      assertFrame(top[0], 'main', local.main, lines.call, 'after stepOut');
      assert.equal(top.length, frames.length - 1, 'stepOut left compute');

      // Step over the print and through the loop to the next call, then into compute.
      let guard = 0;
      do {
        top = await stepAndStop(dc, 'next', threadId);
        assert.equal(top[0].name, 'main', `stepping through main: ${JSON.stringify(top[0])}`);
        assert.equal(top[0].source?.path, local.main);
        guard += 1;
        assert.ok(guard <= 12, 'the loop comes back to the compute call within 12 steps');
      } while (top[0].line !== lines.call);
      // 8. the program's output came through while stepping over the print.
      await waitForStdout(dc, new RegExp(`^result ${n} ${10 * n + 1}$`, 'm'), 'the print after stepOut');

      top = await stepAndStop(dc, 'stepIn', threadId);
      assertFrame(top[0], 'compute', local.lib, lines.computeFirst, 'after stepIn into compute');
      assert.equal((await evaluate(dc, 'n', top[0].id)).result, String(n + 1), 'the next iteration');

      // 9. clear the breakpoints, continue, and the program runs on.
      const cleared = await dc.setBreakpointsRequest({ source: { path: local.lib }, breakpoints: [] });
      assert.deepEqual(cleared.body.breakpoints, []);
      const stopsBefore = dc.eventsNamed('stopped').length;
      const continued = await dc.continueRequest({ threadId });
      assert.equal(continued.body?.allThreadsContinued, true);
      await waitForStdout(dc, new RegExp(`^result ${n + 3} ${10 * (n + 3) + 1}\\n`, 'm'), 'output after continue');
      const seen = assertResultLines(dc, 'stdout after continue');
      assert.ok(seen.includes(n) && seen.includes(n + 3), `results ${n} to ${n + 3} were all seen: ${seen}`);
      assert.equal(dc.eventsNamed('stopped').length, stopsBefore, 'no stop after continue with no breakpoints');
      assert.ok(!dc.outputText('stderr').includes('Traceback'), 'the program raised nothing');

      await disconnect(dc);
      assertProcessAlive(target.pid);
    });
  } finally {
    await shutdown(dc, 'session');
  }
  dc.assertSchemaClean();
});

test(`disconnect, then a new adapter re-attaches to the same process (${target?.peer ?? 'no target'})`, { skip: SKIP, timeout: 180_000 }, async () => {
  let firstN;
  const first = await startClient();
  try {
    await withTranscript(first, async () => {
      await attach(first);
      const breakpoint = await setComputeBreakpoint(first);
      const { frames } = await configureAndHit(first, breakpoint);
      firstN = Number((await evaluate(first, 'n', frames[0].id)).result);
      // Detach while stopped: ptvsd lets the program go on.
      await disconnect(first);
    });
  } finally {
    await shutdown(first, 'first');
  }
  assertProcessAlive(target.pid);

  const second = await startClient();
  try {
    await withTranscript(second, async () => {
      await attach(second);
      const breakpoint = await setComputeBreakpoint(second);
      const { threadId, frames } = await configureAndHit(second, breakpoint);
      const n = Number((await evaluate(second, 'n', frames[0].id)).result);
      assert.ok(n > firstN, `the program ran on between the sessions (n was ${firstN}, now ${n})`);
      const locals = (await second.scopesRequest({ frameId: frames[0].id })).body.scopes.find((s) => s.name === 'Locals');
      assert.equal(byName(await variables(second, locals.variablesReference), 'n', 'Locals').value, String(n));

      await second.setBreakpointsRequest({ source: { path: local.lib }, breakpoints: [] });
      await second.continueRequest({ threadId });
      await waitForStdout(second, new RegExp(`${10 * (n + 2) + 1}\n`), 'output after the re-attached continue');
      const seen = assertResultLines(second, 'stdout after re-attaching (this process was attached to three times)');
      assert.ok(seen.includes(n) && seen.includes(n + 2), `results ${n} to ${n + 2} were all seen: ${seen}`);
      await disconnect(second);
    });
  } finally {
    await shutdown(second, 'second');
  }
  assertProcessAlive(target.pid);
  first.assertSchemaClean();
  second.assertSchemaClean();
});

test(`the editor kills the adapter while stopped; a new adapter attaches again (${target?.peer ?? 'no target'})`, { skip: SKIP, timeout: 180_000 }, async () => {
  // VS Code ends an adapter that does not exit by itself with a signal, and so does
  // DebugClient.stop(); an editor that crashes or reloads ends it without a disconnect.
  // The app must not stay attached to a dead adapter (stopped, or refusing new
  // debuggers).
  let firstN;
  const first = await startClient();
  try {
    await withTranscript(first, async () => {
      await attach(first);
      const breakpoint = await setComputeBreakpoint(first);
      const { frames } = await configureAndHit(first, breakpoint);
      firstN = Number((await evaluate(first, 'n', frames[0].id)).result);
      const proc = first.adapterProcess;
      const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve(signal ?? code)));
      proc.kill('SIGTERM');
      let timer;
      const late = new Promise((resolve) => {
        timer = setTimeout(() => resolve('still running after 5 s'), 5_000);
      });
      const how = await Promise.race([exited, late]);
      clearTimeout(timer);
      assert.notEqual(how, 'still running after 5 s', 'the adapter ends on SIGTERM');
    });
  } finally {
    await shutdown(first, 'killed');
  }
  assertProcessAlive(target.pid);

  const second = await startClient();
  try {
    await withTranscript(second, async () => {
      await attach(second);
      const breakpoint = await setComputeBreakpoint(second);
      const { threadId, frames } = await configureAndHit(second, breakpoint);
      const n = Number((await evaluate(second, 'n', frames[0].id)).result);
      assert.ok(n > firstN, `the killed adapter's stop was released (n was ${firstN}, now ${n})`);
      await second.setBreakpointsRequest({ source: { path: local.lib }, breakpoints: [] });
      await second.continueRequest({ threadId });
      await waitForStdout(second, new RegExp(`${10 * (n + 1) + 1}\\n`), 'output after the continue');
      await disconnect(second);
    });
  } finally {
    await shutdown(second, 'after-kill');
  }
  assertProcessAlive(target.pid);
  first.assertSchemaClean();
  second.assertSchemaClean();
});
