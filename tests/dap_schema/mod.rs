//! Validates DAP messages against the official JSON schema
//! (`tests/fixtures/debugAdapterProtocol.json`, draft-04), for any integration test.
//!
//! Use it from a test crate with `mod dap_schema;` and call [`validate_dap_message`] on
//! every message the adapter sends. Each message is checked against the definition it
//! maps to:
//!
//! * event → `<Event>Event` (first letter capitalised: `stopped` → `StoppedEvent`);
//! * successful response → `<Command>Response`; failed response → `ErrorResponse`;
//! * request → `<Command>Request`;
//! * no such definition (custom events, unknown commands) → the generic `Event`,
//!   `Response` or `Request`.
//!
//! [`validate_dap_message_strict`] also rejects properties the schema does not define, in
//! every object that lists its `properties` (the schema itself allows extra properties
//! everywhere, so a misspelt optional field would otherwise pass unnoticed).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Map, Value};

const SCHEMA_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/debugAdapterProtocol.json");

/// Validates `message` against its schema definition. `Err` lists every violation with
/// its JSON pointer.
pub fn validate_dap_message(message: &Value) -> Result<(), String> {
    validate(message, false)
}

/// Like [`validate_dap_message`], and rejects properties the schema does not define.
pub fn validate_dap_message_strict(message: &Value) -> Result<(), String> {
    validate(message, true)
}

/// The name of the definition `message` is validated against.
pub fn definition_for(message: &Value) -> String {
    let definitions = definitions(false);
    let name = |field: &str| message.get(field).and_then(Value::as_str).map(capitalise);
    let (specific, generic) = match message.get("type").and_then(Value::as_str) {
        Some("event") => (name("event").map(|n| format!("{n}Event")), "Event"),
        Some("response") if message.get("success") == Some(&Value::Bool(false)) => {
            (Some("ErrorResponse".to_owned()), "Response")
        }
        Some("response") => (name("command").map(|n| format!("{n}Response")), "Response"),
        Some("request") => (name("command").map(|n| format!("{n}Request")), "Request"),
        _ => (None, "ProtocolMessage"),
    };
    match specific {
        Some(specific) if definitions.contains_key(&specific) => specific,
        _ => generic.to_owned(),
    }
}

fn capitalise(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn validate(message: &Value, strict: bool) -> Result<(), String> {
    let definition = definition_for(message);
    let validator = validator(&definition, strict);
    let errors: Vec<String> =
        validator.iter_errors(message).map(|error| format!("{} at '{}'", error, error.instance_path)).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{message} does not match {definition}{}:\n  {}",
            if strict { " (strict)" } else { "" },
            errors.join("\n  ")
        ))
    }
}

/// The schema's `definitions`, as published or made strict.
fn definitions(strict: bool) -> &'static Map<String, Value> {
    static PLAIN: OnceLock<Map<String, Value>> = OnceLock::new();
    static STRICT: OnceLock<Map<String, Value>> = OnceLock::new();
    let plain = PLAIN.get_or_init(|| {
        let text = std::fs::read_to_string(SCHEMA_PATH).unwrap_or_else(|e| panic!("cannot read {SCHEMA_PATH}: {e}"));
        let schema: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{SCHEMA_PATH} is not JSON: {e}"));
        match schema.get("definitions") {
            Some(Value::Object(definitions)) => definitions.clone(),
            _ => panic!("{SCHEMA_PATH} has no definitions"),
        }
    });
    if !strict {
        return plain;
    }
    STRICT.get_or_init(|| {
        let mut bases = Vec::new();
        for definition in plain.values() {
            all_of_refs(definition, &mut bases);
        }
        let mut definitions = plain.clone();
        for (name, definition) in &mut definitions {
            forbid_extra_properties(definition, bases.contains(name));
        }
        definitions
    })
}

/// Names of the definitions used as `allOf` members (`ProtocolMessage`, `Response`, …).
fn all_of_refs(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(object) => {
            if let Some(Value::Array(members)) = object.get("allOf") {
                for member in members {
                    if let Some(name) =
                        member.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/definitions/"))
                    {
                        out.push(name.to_owned());
                    }
                }
            }
            object.values().for_each(|child| all_of_refs(child, out));
        }
        Value::Array(items) => items.iter().for_each(|child| all_of_refs(child, out)),
        _ => {}
    }
}

/// Adds `additionalProperties: false` to every object schema with `properties`, except
/// `allOf` members and the definitions they refer to: each member sees all of the
/// instance's properties, so there it would reject the other members' fields.
fn forbid_extra_properties(schema: &mut Value, in_all_of: bool) {
    let Value::Object(object) = schema else { return };
    if !in_all_of && object.contains_key("properties") && !object.contains_key("additionalProperties") {
        object.insert("additionalProperties".to_owned(), Value::Bool(false));
    }
    if let Some(Value::Object(properties)) = object.get_mut("properties") {
        for property in properties.values_mut() {
            forbid_extra_properties(property, false);
        }
    }
    if let Some(items) = object.get_mut("items") {
        forbid_extra_properties(items, false);
    }
    if let Some(Value::Array(members)) = object.get_mut("allOf") {
        for member in members {
            forbid_extra_properties(member, true);
        }
    }
}

/// Compiled validators by (definition, strict).
type ValidatorCache = Mutex<HashMap<(String, bool), Arc<jsonschema::Validator>>>;

fn validator(definition: &str, strict: bool) -> Arc<jsonschema::Validator> {
    static CACHE: OnceLock<ValidatorCache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (definition.to_owned(), strict);
    if let Some(validator) = cache.lock().unwrap().get(&key) {
        return validator.clone();
    }
    let root = json!({
        "$schema": "http://json-schema.org/draft-04/schema#",
        "$ref": format!("#/definitions/{definition}"),
        "definitions": definitions(strict),
    });
    let validator = Arc::new(
        jsonschema::draft4::new(&root).unwrap_or_else(|e| panic!("the schema for {definition} does not compile: {e}")),
    );
    cache.lock().unwrap().insert(key, validator.clone());
    validator
}

/// Fails the test at the first of `messages` (every message a test client received) that
/// does not match the schema strictly ([`validate_dap_message_strict`]) or holds a `null`
/// ([`nulls_in`]).
pub fn assert_all_valid(messages: &[Value]) {
    for message in messages {
        if let Err(error) = validate_dap_message_strict(message) {
            panic!("message does not match the DAP schema: {error}\n{message}");
        }
        let nulls = nulls_in(message);
        assert!(nulls.is_empty(), "null values at {nulls:?} in {message}");
    }
}

/// JSON pointers of every `null` in `value`. Our messages never contain one unless a
/// field is free-form (`adapterData`, `data`, `restart`) and was given `null` on purpose.
pub fn nulls_in(value: &Value) -> Vec<String> {
    fn walk(value: &Value, path: &str, out: &mut Vec<String>) {
        match value {
            Value::Null => out.push(if path.is_empty() { "/".to_owned() } else { path.to_owned() }),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}/{i}"), out);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    walk(item, &format!("{path}/{key}"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, "", &mut out);
    out
}
