// Drives a real VS Code workbench (code-server in headless Chromium, through
// playwright-core) through one debug session as a user would: open the file, F9 on a line,
// F5, answer the extension's secret prompt, wait for the stop, read VARIABLES and CALL
// STACK, add a watch, step over (F10), continue (F5), stop (Shift+F5). Writes what was on
// screen to transcript.json and screenshots to the artefacts folder, for tests/editors.rs.
//
// Parameters: the JSON file named by $PTVSD_E2E_PARAMS:
//   url         the workbench (code-server) URL, with ?folder=WORKSPACE
//   playwright  the playwright-core folder;  chromium  the browser executable
//   file        the workspace-relative file to open;  line  where to put the breakpoint
//   secret      what to answer the secret prompt;  scenario  "flow" or "fail"
//   out         the artefacts folder
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const params = JSON.parse(fs.readFileSync(process.env.PTVSD_E2E_PARAMS, 'utf8'));
const require = createRequire(import.meta.url);
const { chromium } = require(params.playwright);

const out = { steps: [] };
const SHOWS = 60_000;
const note = (step) => {
  out.steps.push(step);
  console.error(`vscode: ${step}`);
};
const save = () => fs.writeFileSync(path.join(params.out, 'transcript.json'), JSON.stringify(out, null, 2));

const browser = await chromium.launch({ executablePath: params.chromium, args: ['--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
const shot = (name) => page.screenshot({ path: path.join(params.out, `${name}.png`) });

// The text of a view pane of the Run and Debug side bar (VARIABLES, WATCH, CALL STACK).
async function paneText(title) {
  const pane = page.locator('.pane', { has: page.locator(`.pane-header[aria-label^="${title}"]`) });
  // One line per row: "name = value" (the value is a separate element).
  return (await pane.locator('.pane-body').innerText()).replace(/ =\n/g, ' = ').trim();
}

// Waits until a pane's text matches `pattern` (and differs from `not`); returns the text.
async function waitPane(title, pattern, not = null) {
  const deadline = Date.now() + SHOWS;
  for (;;) {
    const text = await paneText(title);
    if (new RegExp(pattern).test(text) && text !== not) return text;
    if (Date.now() > deadline) throw new Error(`${title} did not show /${pattern}/ in time; it shows:\n${text}`);
    await page.waitForTimeout(100);
  }
}

// Waits until the CALL STACK's top frame is `file` at `line`.
async function waitTopFrame(file, line) {
  await page.waitForFunction(
    ([file, line]) => {
      const row = document.querySelector('.debug-call-stack .monaco-list-row .stack-frame:not(.label)');
      if (!row) return false;
      const name = row.querySelector('.file-name')?.textContent ?? '';
      const position = row.querySelector('.line-number')?.textContent ?? '';
      return name.includes(file) && position.startsWith(`${line}:`);
    },
    [path.basename(file), params.line === undefined ? line : line],
    { timeout: SHOWS },
  );
}

// Opens `file` (workspace-relative) from the Explorer, one folder row at a time, and
// puts the cursor on `line` (Ctrl+G).
async function openFileAt(file, line) {
  const parts = file.split('/');
  for (const [i, part] of parts.entries()) {
    const row = page.locator(`.explorer-folders-view .monaco-list-row[aria-label="${part}"]`);
    await row.first().waitFor({ timeout: SHOWS });
    if (i < parts.length - 1) {
      if ((await row.first().getAttribute('aria-expanded')) !== 'true') await row.first().click();
    } else {
      await row.first().dblclick();
    }
  }
  await page.locator(`.tab[aria-label^="${path.basename(file)}"]`).waitFor({ timeout: SHOWS });
  await page.locator('.monaco-editor textarea').first().focus();
  await page.keyboard.press('Control+G');
  await page.locator('.quick-input-widget input').waitFor({ state: 'visible', timeout: SHOWS });
  await page.keyboard.type(String(line));
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: SHOWS });
}

// F9 on the cursor's line.
async function setBreakpoint() {
  // F9 does nothing until the extension host has registered Python as a language with
  // breakpoints (the extension's package.json): press again while no breakpoint shows.
  const glyph = page.locator('.codicon-debug-breakpoint, .codicon-debug-breakpoint-unverified').first();
  for (let tries = 0; ; tries++) {
    if (!(await glyph.isVisible())) await page.keyboard.press('F9');
    try {
      await glyph.waitFor({ timeout: 3000 });
      break;
    } catch (error) {
      if (tries >= 20) throw error;
    }
  }
}

// F5 and the extension's secret prompt.
async function startDebugging() {
  await page.keyboard.press('F5');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: SHOWS });
  note(`prompt: ${(await page.locator('.quick-input-widget').innerText()).replace(/\s+/g, ' ').trim()}`);
  await page.keyboard.type(params.secret);
  await page.keyboard.press('Enter');
}

async function flow() {
  await openFileAt(params.file, params.line);
  await setBreakpoint();
  note('breakpoint set');
  await startDebugging();
  await page.locator('.debug-top-stack-frame-line').first().waitFor({ timeout: SHOWS });
  await waitTopFrame(params.file, params.line);
  note('stopped at the breakpoint');
  out.variables = await waitPane('Variables', '\\bn =\\s*\\d+');
  out.call_stack = await waitPane('Call Stack', 'target\\.py');

  // WATCH: the pane's "Add Expression" action.
  const watch = page.locator('.pane', { has: page.locator('.pane-header[aria-label^="Watch"]') });
  await watch.locator('.pane-header').hover();
  await watch.locator('.pane-header .action-label[aria-label="Add Expression"]').click();
  await page.keyboard.type(params.watch);
  await page.keyboard.press('Enter');
  await page.waitForFunction(
    (expression) => [...document.querySelectorAll('.debug-watch .monaco-list-row')].some((r) => r.textContent.includes(expression) && /=\s*\S/.test(r.textContent)),
    params.watch,
    { timeout: SHOWS },
  );
  out.watch = await waitPane('Watch', "'item-\\d+'");
  await shot('stopped');

  await page.keyboard.press('F10');
  await waitTopFrame(params.file, params.step_line);
  note('stepped over');
  out.variables_after_step = await waitPane('Variables', '\\bn =\\s*\\d+');
  out.watch_after_step = await waitPane('Watch', "'item-\\d+'");

  await page.keyboard.press('F5');
  await waitTopFrame(params.file, params.line);
  note('continued to the breakpoint again');
  out.watch_after_continue = await waitPane('Watch', "'item-\\d+'", out.watch_after_step);
  await shot('stopped-again');

  await page.keyboard.press('Shift+F5');
  await page.locator('.debug-toolbar').waitFor({ state: 'hidden', timeout: SHOWS });
  note('stopped the session');
}

async function fail() {
  await openFileAt(params.file, params.line);
  // (Also waits until the extension host is ready for F5.)
  await setBreakpoint();
  await startDebugging();
  const toast = page.locator('.notifications-toasts .notification-toast, .monaco-dialog-box').first();
  await toast.waitFor({ timeout: SHOWS });
  out.error = (await toast.innerText()).replace(/\s+/g, ' ').trim();
  await shot('failed');
  // The DEBUG CONSOLE keeps the sentence too (it comes after `terminated`).
  const repl = page.locator('.repl .monaco-list-rows');
  await page.waitForFunction(() => /rejected the secret/.test(document.querySelector('.repl .monaco-list-rows')?.textContent ?? ''), null, { timeout: SHOWS }).catch(() => {});
  out.console = (await repl.innerText().catch(() => '')).trim();
}

try {
  await page.goto(params.url);
  await page.locator('.monaco-workbench .part.editor').waitFor({ timeout: SHOWS });
  note('workbench loaded');
  await (params.scenario === 'fail' ? fail() : flow());
  out.ok = true;
} catch (error) {
  out.failure = String(error && error.stack ? error.stack : error);
  await shot('failure').catch(() => {});
  out.explorer = await page.evaluate(() => document.querySelector('.explorer-folders-view')?.outerHTML.slice(0, 4000)).catch(() => null);
}
save();
await browser.close();
