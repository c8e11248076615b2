//! Typed, owned access to the keys of a decoded JSON message, with errors that say where.
//!
//! Owns: [`Fields`] (an object whose keys are taken out one by one, so strings move out of
//! the parsed [`Value`] instead of being copied) and [`Bad`], a decoding failure that
//! records the path to the offending key (`threadFrames[0].variables[2].obj.flags`) and
//! becomes a [`ProtocolError`] at the message boundary.
//! Must not know: which keys a message has.

use std::fmt;

use serde_json::{Map, Value};

use crate::legacy::error::ProtocolError;

/// One step of the path to a bad value.
#[derive(Debug)]
enum Step {
    Key(&'static str),
    Index(usize),
}

#[derive(Debug)]
enum Problem {
    Missing,
    WrongType { expected: &'static str, found: &'static str },
    TooMany { what: &'static str, count: usize, limit: usize },
    Invalid(String),
}

/// Why a message could not be decoded, and where.
#[derive(Debug)]
pub(super) struct Bad {
    /// Innermost step first (steps are pushed while the error travels outwards).
    path: Vec<Step>,
    problem: Problem,
}

pub(super) type Res<T> = Result<T, Bad>;

impl Bad {
    fn new(problem: Problem) -> Self {
        Self { path: Vec::new(), problem }
    }

    pub(super) fn invalid(detail: impl Into<String>) -> Self {
        Self::new(Problem::Invalid(detail.into()))
    }

    fn wrong_type(expected: &'static str, found: &Value) -> Self {
        Self::new(Problem::WrongType { expected, found: type_name(found) })
    }

    /// Prefixes the path with `key` (the error happened inside that key's value).
    pub(super) fn within(self, key: &'static str) -> Self {
        self.key(key)
    }

    fn key(mut self, key: &'static str) -> Self {
        self.path.push(Step::Key(key));
        self
    }

    fn index(mut self, index: usize) -> Self {
        self.path.push(Step::Index(index));
        self
    }

    /// The error for the whole message; `context` names it (`event legacyThreadCreate`).
    pub(super) fn into_error(self, context: &str) -> ProtocolError {
        match self.problem {
            Problem::TooMany { what, count, limit } => {
                ProtocolError::TooLarge { what, size: count as u64, limit: limit as u64 }
            }
            _ => ProtocolError::Malformed { detail: format!("{context}: {self}") },
        }
    }
}

impl fmt::Display for Bad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut path = String::new();
        for step in self.path.iter().rev() {
            match step {
                Step::Key(key) => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                }
                Step::Index(index) => path.push_str(&format!("[{index}]")),
            }
        }
        let subject = if path.is_empty() { "the message".to_owned() } else { format!("`{path}`") };
        match &self.problem {
            Problem::Missing => write!(f, "{subject} is missing"),
            Problem::WrongType { expected, found } => write!(f, "{subject} is {found}, expected {expected}"),
            Problem::TooMany { what, count, limit } => {
                write!(f, "{subject} has {count} {what}, more than the limit of {limit}")
            }
            Problem::Invalid(detail) => write!(f, "{subject}: {detail}"),
        }
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON object whose keys are taken out as they are read.
#[derive(Debug, Default)]
pub(super) struct Fields(Map<String, Value>);

impl Fields {
    /// An object; anything else is an error.
    pub(super) fn from_value(value: Value) -> Res<Self> {
        match value {
            Value::Object(map) => Ok(Self(map)),
            other => Err(Bad::wrong_type("an object", &other)),
        }
    }

    /// An object, or null/absent read as `{}` (message bodies and request arguments).
    pub(super) fn from_optional(value: Option<Value>) -> Res<Self> {
        match value {
            None | Some(Value::Null) => Ok(Self::default()),
            Some(value) => Self::from_value(value),
        }
    }

    pub(super) fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// A key that must be present.
    pub(super) fn req<T>(&mut self, key: &'static str, convert: impl FnOnce(Value) -> Res<T>) -> Res<T> {
        match self.0.remove(key) {
            None => Err(Bad::new(Problem::Missing).key(key)),
            Some(value) => convert(value).map_err(|bad| bad.key(key)),
        }
    }

    /// A key that may be absent or null.
    pub(super) fn opt<T>(&mut self, key: &'static str, convert: impl FnOnce(Value) -> Res<T>) -> Res<Option<T>> {
        match self.0.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => convert(value).map(Some).map_err(|bad| bad.key(key)),
        }
    }

    /// A required integer.
    pub(super) fn int(&mut self, key: &'static str) -> Res<i64> {
        self.req(key, int)
    }

    /// A required string; null reads as empty.
    pub(super) fn string(&mut self, key: &'static str) -> Res<String> {
        self.req(key, string_or_empty)
    }

    /// A required key whose value is a string or null.
    pub(super) fn nullable_string(&mut self, key: &'static str) -> Res<Option<String>> {
        self.req(key, nullable_string)
    }

    /// An optional string (absent or null: `None`).
    pub(super) fn opt_string(&mut self, key: &'static str) -> Res<Option<String>> {
        self.opt(key, string)
    }

    /// A required array of at most `limit` elements, each converted.
    pub(super) fn list<T>(
        &mut self,
        key: &'static str,
        what: &'static str,
        limit: usize,
        convert: impl FnMut(Value) -> Res<T>,
    ) -> Res<Vec<T>> {
        self.req(key, |value| list(value, what, limit, convert))
    }
}

/// An integer. Floats with an integral value in range are accepted too (nothing in ptvsd
/// sends them, but they are numbers all the same); booleans are not.
pub(super) fn int(value: Value) -> Res<i64> {
    match &value {
        Value::Number(number) => {
            if let Some(i) = number.as_i64() {
                return Ok(i);
            }
            match number.as_f64() {
                Some(f) if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 => Ok(f as i64),
                _ => Err(Bad::invalid(format!("{number} does not fit a 64-bit integer"))),
            }
        }
        other => Err(Bad::wrong_type("an integer", other)),
    }
}

pub(super) fn boolean(value: Value) -> Res<bool> {
    match value {
        Value::Bool(b) => Ok(b),
        other => Err(Bad::wrong_type("a boolean", &other)),
    }
}

pub(super) fn string(value: Value) -> Res<String> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(Bad::wrong_type("a string", &other)),
    }
}

pub(super) fn string_or_empty(value: Value) -> Res<String> {
    match value {
        Value::Null => Ok(String::new()),
        other => string(other),
    }
}

pub(super) fn nullable_string(value: Value) -> Res<Option<String>> {
    match value {
        Value::Null => Ok(None),
        other => string(other).map(Some),
    }
}

/// An array of at most `limit` elements, each converted; errors name the index.
pub(super) fn list<T>(
    value: Value,
    what: &'static str,
    limit: usize,
    mut convert: impl FnMut(Value) -> Res<T>,
) -> Res<Vec<T>> {
    let items = match value {
        Value::Array(items) => items,
        other => return Err(Bad::wrong_type("an array", &other)),
    };
    if items.len() > limit {
        return Err(Bad::new(Problem::TooMany { what, count: items.len(), limit }));
    }
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        out.push(convert(item).map_err(|bad| bad.index(index))?);
    }
    Ok(out)
}
