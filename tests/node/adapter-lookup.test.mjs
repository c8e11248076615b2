// The VS Code extension's adapter lookup (editors/vscode/adapter.js): the setting
// ptvsdDap.adapterPath first, then the binary bundled in the .vsix, then PATH and ~/.cargo/bin.
// Run by tests/install.rs (`node --test`, with PTVSD_DAP_ADAPTER_JS naming the adapter.js
// of the checkout it packaged); standalone it tests editors/vscode/adapter.js here.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const adapterJs = process.env.PTVSD_DAP_ADAPTER_JS || path.join(here, '..', '..', 'editors', 'vscode', 'adapter.js');
const { findAdapter } = createRequire(import.meta.url)(adapterJs);

// A scratch tree: ext/ (an extension folder), set/ptvsd-dap (for the setting), onpath/,
// home/ (no ~/.cargo/bin), each binary a tiny executable.
const roots = [];
after(() => roots.forEach((root) => fs.rmSync(root, { recursive: true, force: true })));

function scratch() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'adapter-lookup-'));
  roots.push(root);
  const exe = (dir) => {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'ptvsd-dap');
    fs.writeFileSync(file, '#!/bin/sh\n', { mode: 0o755 });
    return file;
  };
  const dirs = { root, ext: path.join(root, 'ext'), home: path.join(root, 'home') };
  fs.mkdirSync(dirs.ext);
  fs.mkdirSync(dirs.home);
  return { ...dirs, bundled: () => exe(path.join(dirs.ext, 'bin')), setting: exe(path.join(root, 'set')), onPath: exe(path.join(root, 'onpath')) };
}

function lookup(s, { configured = '', pathDirs = [] } = {}) {
  return findAdapter({
    extensionPath: s.ext,
    configured,
    env: { PATH: pathDirs.join(':'), CARGO_HOME: path.join(s.home, '.cargo') },
    platform: 'linux',
    homedir: s.home,
  });
}

test('the setting comes first, even with a bundled binary and PATH', () => {
  const s = scratch();
  s.bundled();
  assert.deepEqual(lookup(s, { configured: ` ${s.setting} `, pathDirs: [path.dirname(s.onPath)] }), { command: s.setting, source: 'setting' });
});

test('without the setting the bundled binary wins over PATH', () => {
  const s = scratch();
  const bundled = s.bundled();
  assert.deepEqual(lookup(s, { configured: '', pathDirs: [path.dirname(s.onPath)] }), { command: bundled, source: 'bundled' });
});

test('a setting that is not an executable is reported, not skipped', () => {
  const s = scratch();
  const result = lookup(s, { configured: path.join(s.root, 'nothing'), pathDirs: [path.dirname(s.onPath)] });
  assert.match(result.problem, /ptvsdDap\.adapterPath .* not an executable file/);
});

test('then PATH, then ~/.cargo/bin', () => {
  const s = scratch();
  assert.deepEqual(lookup(s, { pathDirs: ['/nonexistent', path.dirname(s.onPath)] }), { command: s.onPath, source: 'PATH' });
  const cargoBin = path.join(s.home, '.cargo', 'bin');
  fs.mkdirSync(cargoBin, { recursive: true });
  fs.writeFileSync(path.join(cargoBin, 'ptvsd-dap'), '#!/bin/sh\n', { mode: 0o755 });
  assert.deepEqual(lookup(s, { pathDirs: [] }), { command: path.join(cargoBin, 'ptvsd-dap'), source: 'PATH' });
});

test('nothing anywhere: a sentence with the fixes', () => {
  const s = scratch();
  const result = lookup(s, { pathDirs: ['/nonexistent'] });
  assert.equal(result.command, undefined);
  assert.match(result.problem, /no adapter for linux inside/);
  assert.match(result.problem, /cargo install/);
  assert.match(result.problem, /ptvsdDap\.adapterPath/);
});
