// A DebugClient (from @vscode/debugadapter-testsupport, a DAP client we did not write)
// that validates every message the adapter sends against the official DAP JSON schema
// (tests/fixtures/debugAdapterProtocol.json, draft-04) before handing it on.
//
// Each message is checked against the definition it maps to:
//   event              -> `<Event>Event` (first letter capitalised: stopped -> StoppedEvent)
//   successful response -> `<Command>Response`
//   failed response     -> `ErrorResponse`
//   no such definition  -> the generic `Event` / `Response`
// Failures are collected (`schemaFailures`), never thrown from the socket handler; a test
// asserts `assertSchemaClean()` at its end. Every message is also kept in `received`,
// and every event in `events`, so a test can look back at events it did not wait for
// (DebugClient itself does not buffer events).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

import testsupport from '@vscode/debugadapter-testsupport';
import AjvDraft04Module from 'ajv-draft-04';

const { DebugClient } = testsupport;
const AjvDraft04 = AjvDraft04Module.default ?? AjvDraft04Module;

export const SCHEMA_PATH = fileURLToPath(
  new URL('../fixtures/debugAdapterProtocol.json', import.meta.url),
);

const SCHEMA_ID = 'dap';
let shared = null;

/** The compiled schema (once per process): an Ajv instance and the definition names. */
function schema() {
  if (shared === null) {
    const document = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8'));
    // strict:false: the schema uses non-standard keywords (`_enum`, …).
    const ajv = new AjvDraft04({ strict: false, allErrors: true });
    // The schema marks integers `format: int32` (and a few int64/uint32/uint64); hold
    // them to their ranges instead of ignoring the unknown formats.
    const range = (min, max) => ({ type: 'number', validate: (n) => Number.isInteger(n) && n >= min && n <= max });
    ajv.addFormat('int32', range(-(2 ** 31), 2 ** 31 - 1));
    ajv.addFormat('uint32', range(0, 2 ** 32 - 1));
    ajv.addFormat('int64', range(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER));
    ajv.addFormat('uint64', range(0, Number.MAX_SAFE_INTEGER));
    ajv.addSchema(document, SCHEMA_ID);
    shared = { ajv, definitions: new Set(Object.keys(document.definitions)), validators: new Map() };
  }
  return shared;
}

function capitalise(name) {
  return typeof name === 'string' && name.length > 0 ? name[0].toUpperCase() + name.slice(1) : '';
}

/** The schema definition a message from the adapter is validated against. */
export function definitionFor(message) {
  const { definitions } = schema();
  let specific;
  let generic;
  if (message.type === 'event') {
    specific = `${capitalise(message.event)}Event`;
    generic = 'Event';
  } else if (message.type === 'response' && message.success === false) {
    specific = 'ErrorResponse';
    generic = 'Response';
  } else if (message.type === 'response') {
    specific = `${capitalise(message.command)}Response`;
    generic = 'Response';
  } else {
    // The adapter sends no reverse requests; anything else is checked as a bare message.
    specific = message.type === 'request' ? `${capitalise(message.command)}Request` : '';
    generic = message.type === 'request' ? 'Request' : 'ProtocolMessage';
  }
  return definitions.has(specific) ? specific : generic;
}

/** Validates one message; returns null or a description of every violation. */
export function validateMessage(message) {
  const { ajv, validators } = schema();
  const definition = definitionFor(message);
  let validate = validators.get(definition);
  if (validate === undefined) {
    validate = ajv.getSchema(`${SCHEMA_ID}#/definitions/${definition}`);
    assert.ok(validate, `the schema has no definition ${definition}`);
    validators.set(definition, validate);
  }
  if (validate(message)) {
    return null;
  }
  const errors = validate.errors
    .map((e) => `${e.instancePath || '/'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`)
    .join('\n    ');
  return `${JSON.stringify(message)}\n  does not match ${definition}:\n    ${errors}`;
}

export class ValidatingDebugClient extends DebugClient {
  constructor(...args) {
    super(...args);
    /** Every message the adapter sent, parsed, in order. */
    this.received = [];
    /** Every event the adapter sent, in order. */
    this.events = [];
    /** Schema violations (and unparsable messages) seen so far. */
    this.schemaFailures = [];
  }

  dispatch(body) {
    let message;
    try {
      message = JSON.parse(body);
    } catch (error) {
      this.schemaFailures.push(`not JSON (${error.message}): ${body}`);
      return;
    }
    this.received.push(message);
    if (message.type === 'event') {
      this.events.push(message);
    }
    const failure = validateMessage(message);
    if (failure !== null) {
      this.schemaFailures.push(failure);
    }
    super.dispatch(body);
  }

  /**
   * DebugClient's waitForEvent, except that its timer does not keep node alive: a wait
   * left pending by a failed test (say, for `initialized` after a failed attach) would
   * otherwise hold the test run open until it times out.
   */
  waitForEvent(eventType, timeout) {
    timeout = timeout || this.defaultTimeout;
    return new Promise((resolve, reject) => {
      const listener = (event) => {
        clearTimeout(timer);
        resolve(event);
      };
      const timer = setTimeout(() => {
        this.removeListener(eventType, listener);
        reject(new Error(`no event '${eventType}' received after ${timeout} ms`));
      }, timeout);
      timer.unref();
      this.once(eventType, listener);
    });
  }

  /** Events named `name` seen so far. */
  eventsNamed(name) {
    return this.events.filter((e) => e.event === name);
  }

  /** All `output` text of `category` seen so far, concatenated. */
  outputText(category) {
    return this.eventsNamed('output')
      .filter((e) => e.body.category === category)
      .map((e) => e.body.output)
      .join('');
  }

  /** Fails unless every message the adapter sent matched the schema. */
  assertSchemaClean() {
    assert.ok(this.received.length > 0, 'the adapter sent nothing');
    assert.deepEqual(
      this.schemaFailures,
      [],
      `${this.schemaFailures.length} of ${this.received.length} messages from the adapter do not match the DAP schema`,
    );
  }

  /** The adapter process (DebugClient keeps it in a private field). */
  get adapterProcess() {
    return this._adapterProcess ?? null;
  }
}
