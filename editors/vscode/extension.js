// The VS Code side of ptvsd-dap: starts the `ptvsd-dap` adapter (DAP on stdio) for
// debug sessions of type `ptvsd-dap` (the one bundled in the .vsix, else the setting,
// else PATH: adapter.js), and asks for the ptvsd secret when a
// configuration says `${command:ptvsd-dap.askForSecret}`.
//
// Plain JavaScript on purpose: no build step, no dependencies. Everything the
// configurations may contain is described in package.json, which is generated from
// the adapter (`ptvsd-dap schema`) and checked by `cargo test --test editor_configs`.
'use strict';

const os = require('os');
const vscode = require('vscode');
const adapterLookup = require('./adapter');

// The extension's folder (set in activate): a platform-specific .vsix has bin/ptvsd-dap.
let extensionFolder = '';

const TYPE = 'ptvsd-dap';

// Bundled binary, then the setting, then PATH: see adapter.js.
function findAdapter() {
  return adapterLookup.findAdapter({
    extensionPath: extensionFolder,
    configured: vscode.workspace.getConfiguration('ptvsdDap').get('adapterPath', ''),
    env: process.env,
    platform: process.platform,
    homedir: os.homedir(),
  });
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
  extensionFolder = context.extensionPath;
  context.subscriptions.push(
    vscode.debug.registerDebugConfigurationProvider(TYPE, configurationProvider),
    vscode.debug.registerDebugAdapterDescriptorFactory(TYPE, descriptorFactory),
    vscode.commands.registerCommand('ptvsd-dap.askForSecret', askForSecret),
  );
}

function deactivate() {}

module.exports = { activate, deactivate };
