// Where the ptvsd-dap adapter binary is, in this order:
//   1. the setting ptvsdDap.adapterPath (an explicit choice wins: a remote machine's
//      Machine settings, a development build);
//   2. bundled: bin/ptvsd-dap inside the extension (the platform-specific .vsix that
//      scripts/package-vsix.sh builds carries the adapter built for that platform);
//   3. PATH, then ~/.cargo/bin (where `cargo install` puts it; a VS Code started from the
//      desktop often has a PATH without it).
// No `vscode` import: the extension passes in what it read, and
// `cargo test --test install` runs this file under plain node.
'use strict';

const fs = require('fs');
const path = require('path');

function exeName(platform) {
  return platform === 'win32' ? 'ptvsd-dap.exe' : 'ptvsd-dap';
}

function isExecutableFile(file) {
  try {
    if (!fs.statSync(file).isFile()) {
      return false;
    }
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function expandHome(file, homedir) {
  return file === '~' || file.startsWith('~/') || file.startsWith('~\\') ? path.join(homedir, file.slice(1)) : file;
}

// `{ command, source }` with source 'bundled', 'setting' or 'PATH'; or `{ problem }`, a
// sentence with the fix.
//   extensionPath: the extension's folder; configured: the setting ('' when unset);
//   env: the environment (PATH, CARGO_HOME); platform: process.platform; homedir.
function findAdapter({ extensionPath, configured, env, platform, homedir }) {
  const exe = exeName(platform);
  const setting = (configured || '').trim();
  if (setting) {
    const command = expandHome(setting, homedir);
    if (isExecutableFile(command)) {
      return { command, source: 'setting' };
    }
    return {
      problem:
        `The setting ptvsdDap.adapterPath is "${setting}", which is not an executable file. ` +
        'Point it at the ptvsd-dap binary, or clear it to use the bundled one or PATH.',
    };
  }
  if (extensionPath) {
    const bundled = path.join(extensionPath, 'bin', exe);
    if (isExecutableFile(bundled)) {
      return { command: bundled, source: 'bundled' };
    }
  }
  const cargoBin = path.join(env.CARGO_HOME || path.join(homedir, '.cargo'), 'bin');
  const delimiter = platform === 'win32' ? ';' : ':';
  const directories = (env.PATH || '').split(delimiter).filter(Boolean).concat([cargoBin]);
  for (const directory of directories) {
    const command = path.join(directory, exe);
    if (isExecutableFile(command)) {
      return { command, source: 'PATH' };
    }
  }
  return {
    problem:
      `This ptvsd-dap extension has no adapter for ${platform} inside, and ${exe} is not on PATH ` +
      `or in ${cargoBin}. Install the .vsix made for this platform, or the adapter with ` +
      '`cargo install ptvsd-dap` (or `cargo install --locked --path .` in a checkout), ' +
      'or set ptvsdDap.adapterPath to the binary.',
  };
}

module.exports = { findAdapter, exeName };
