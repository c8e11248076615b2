// The VS Code side of ptvsd-dap: starts the `ptvsd-dap` adapter (DAP on stdio) for
// debug sessions of type `ptvsd-dap`, and asks for the ptvsd secret when a
// configuration says `${command:ptvsd-dap.askForSecret}`.
//
// Plain JavaScript on purpose: no build step, no dependencies. Everything the
// configurations may contain is described in package.json, which is generated from
// the adapter (`ptvsd-dap schema`) and checked by `cargo test --test editor_configs`.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const vscode = require('vscode');

const TYPE = 'ptvsd-dap';
const EXE = process.platform === 'win32' ? 'ptvsd-dap.exe' : 'ptvsd-dap';

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

function expandHome(file) {
  return file === '~' || file.startsWith('~/') || file.startsWith('~\\') ? path.join(os.homedir(), file.slice(1)) : file;
}

// Where the adapter is: `{ command }`, or `{ problem }` as a sentence with the fix.
function findAdapter() {
  const configured = vscode.workspace.getConfiguration('ptvsdDap').get('adapterPath', '').trim();
  if (configured) {
    const command = expandHome(configured);
    if (isExecutableFile(command)) {
      return { command };
    }
    return {
      problem:
        `The setting ptvsdDap.adapterPath is "${configured}", which is not an executable file. ` +
        'Point it at the ptvsd-dap binary, or clear it to look on PATH.',
    };
  }
  // Where `cargo install` puts it; a VS Code started from the desktop often has a PATH
  // without it.
  const cargoBin = path.join(process.env.CARGO_HOME || path.join(os.homedir(), '.cargo'), 'bin');
  const directories = (process.env.PATH || '').split(path.delimiter).filter(Boolean).concat([cargoBin]);
  for (const directory of directories) {
    const command = path.join(directory, EXE);
    if (isExecutableFile(command)) {
      return { command };
    }
  }
  return {
    problem:
      `Cannot find the ${EXE} debug adapter on PATH or in ${cargoBin}. ` +
      'Install it with `cargo install --path .` in a ptvsd-dap checkout, ' +
      'or set ptvsdDap.adapterPath to the binary.',
  };
}

function reportMissingAdapter(problem) {
  vscode.window.showErrorMessage(problem, 'Open Settings').then((choice) => {
    if (choice === 'Open Settings') {
      vscode.commands.executeCommand('workbench.action.openSettings', 'ptvsdDap.adapterPath');
    }
  });
}

const configurationProvider = {
  resolveDebugConfiguration(_folder, config) {
    // F5 without a launch.json: run the current Python file.
    if (!config.type && !config.request && !config.name) {
      const editor = vscode.window.activeTextEditor;
      if (!editor || editor.document.languageId !== 'python') {
        return null; // Opens launch.json.
      }
      config = { type: TYPE, request: 'launch', name: 'Launch the current file under ptvsd', program: '${file}' };
    }
    const adapter = findAdapter();
    if (adapter.problem) {
      reportMissingAdapter(adapter.problem);
      return undefined; // Abandons the launch quietly: the message says why.
    }
    return config;
  },
};

const descriptorFactory = {
  createDebugAdapterDescriptor() {
    const adapter = findAdapter();
    if (adapter.problem) {
      throw new Error(adapter.problem);
    }
    return new vscode.DebugAdapterExecutable(adapter.command, []);
  },
};

async function askForSecret() {
  const secret = await vscode.window.showInputBox({
    title: 'ptvsd secret',
    prompt: 'The secret the app gave ptvsd (App Service: WSGI_PTVSD_SECRET in web.debug.config)',
    password: true,
    ignoreFocusOut: true,
  });
  // Undefined (Escape) cancels the launch. The secret goes into the URL's user-info.
  return secret === undefined ? undefined : encodeURIComponent(secret);
}

function activate(context) {
  context.subscriptions.push(
    vscode.debug.registerDebugConfigurationProvider(TYPE, configurationProvider),
    vscode.debug.registerDebugAdapterDescriptorFactory(TYPE, descriptorFactory),
    vscode.commands.registerCommand('ptvsd-dap.askForSecret', askForSecret),
  );
}

function deactivate() {}

module.exports = { activate, deactivate };
