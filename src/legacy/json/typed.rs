//! Typed decoding of the two messages that can be megabytes long: the children of an
//! expanded variable (`legacyEnumChildrenResult`) and a thread's frames with their locals
//! (`legacyThreadFrameList`, sent at every stop, step and evaluation). They are read from
//! the body bytes straight into [`Event`]s, without first building a `serde_json::Value`
//! tree (about 500 bytes per variable, alive next to the result while it is converted).
//!
//! Owns only the fast path. It accepts a message only when every field has exactly the
//! shape the general path (`events.rs`) accepts and the counts are within [`Limits`];
//! anything else (another message, a missing key, a float where an integer belongs, too
//! many entries) is left to the general path, which decodes or reports it. So what this
//! module accepts is decoded exactly as the general path would decode it.

use std::cell::Cell;

use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::events::{ENUM_CHILDREN_RESULT, THREAD_FRAME_LIST};
use crate::legacy::messages::{Child, Event, Frame, FrameKind, PyObject, Variable};
use crate::legacy::wire::Limits;

#[derive(Deserialize)]
struct Envelope<B> {
    #[serde(rename = "type")]
    kind: String,
    event: String,
    body: B,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChildrenBody {
    execution_id: i64,
    #[serde(deserialize_with = "presized")]
    children: Vec<WireChild>,
}

#[derive(Deserialize)]
struct WireChild {
    #[serde(deserialize_with = "null_as_empty")]
    name: String,
    #[serde(deserialize_with = "nullable")]
    expression: Option<String>,
    obj: WireObject,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireObject {
    #[serde(deserialize_with = "nullable")]
    obj_repr: Option<String>,
    #[serde(deserialize_with = "nullable")]
    hex_repr: Option<String>,
    #[serde(deserialize_with = "null_as_empty")]
    type_name: String,
    length: i64,
    flags: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FrameListBody {
    thread_id: i64,
    #[serde(deserialize_with = "nullable")]
    thread_name: Option<String>,
    thread_frames: Vec<WireFrame>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireFrame {
    start_line: i64,
    end_line: i64,
    line_no: i64,
    #[serde(deserialize_with = "null_as_empty")]
    frame_name: String,
    #[serde(deserialize_with = "null_as_empty")]
    file_name: String,
    arg_count: i64,
    frame_kind: i64,
    /// Outer `Some`: the key is there (even as null).
    #[serde(default, deserialize_with = "present")]
    django_source_file: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    django_source_line: Option<Option<i64>>,
    variables: Vec<WireVariable>,
}

#[derive(Deserialize)]
struct WireVariable {
    #[serde(deserialize_with = "null_as_empty")]
    name: String,
    obj: WireObject,
}

thread_local! {
    /// How many children the body being decoded can hold ([`children_in`]): their `Vec`
    /// is allocated once at that size rather than doubled up to it (10 000 children:
    /// 1.4 MB, where doubling ends at 2.2 MB after copying 1.1 MB into it).
    static CHILDREN_HINT: Cell<usize> = const { Cell::new(0) };
}

/// The children of a `legacyEnumChildrenResult`, in a `Vec` of [`CHILDREN_HINT`]'s size.
fn presized<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<WireChild>, D::Error> {
    struct Children;
    impl<'de> Visitor<'de> for Children {
        type Value = Vec<WireChild>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of children")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<WireChild>, A::Error> {
            let mut children = Vec::with_capacity(CHILDREN_HINT.get());
            while let Some(child) = seq.next_element()? {
                children.push(child);
            }
            Ok(children)
        }
    }
    d.deserialize_seq(Children)
}

/// The bytes of the shortest child ptvsd can send (`{"name":"","expression":null,"obj":
/// {"objRepr":null,"hexRepr":null,"typeName":"","length":0,"flags":0}}`, 97 bytes), rounded
/// down: however many `"obj":` keys a body has, no more children fit in it than this allows.
const MIN_CHILD_JSON: usize = 64;

/// An upper bound of the children in `body`: every child has one `"obj":` key, and those
/// six bytes cannot occur inside a JSON string (a quote in a string is escaped). Capped
/// by what the body's length can hold and by `limits`, so a forged body reserves at most
/// about twice its own size.
pub(super) fn children_in(body: &[u8], limits: &Limits) -> usize {
    let keys = body.windows(6).filter(|w| *w == b"\"obj\":").count();
    keys.min(body.len() / MIN_CHILD_JSON).min(limits.max_count)
}

/// A required key whose value is a string or null.
fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)
}

/// A required string; null reads as empty.
fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// An optional key, remembering that it was there.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

impl From<WireObject> for PyObject {
    fn from(o: WireObject) -> Self {
        PyObject { repr: o.obj_repr, hex: o.hex_repr, type_name: o.type_name, length: o.length, flags: o.flags }
    }
}

/// How much of each end of a body is searched for the event name. ptvsd writes `type`,
/// `seq`, `event`, `body` in that order on Python 3; Python 2 orders them by hash, which
/// puts `event` either before `body` or after it. Only the ends are searched, so that an
/// output event (any size, thousands a second) costs a few hundred byte compares.
const NAME_WITHIN: usize = 256;

/// Whether `"name"` appears near either end of `body` (a match inside a string only costs
/// a declined attempt).
fn names(body: &[u8], name: &str) -> bool {
    let needle = format!("\"{name}\"");
    let head = &body[..body.len().min(NAME_WITHIN)];
    let tail = &body[body.len().saturating_sub(NAME_WITHIN)..];
    [head, tail].iter().any(|part| part.windows(needle.len()).any(|w| w == needle.as_bytes()))
}

/// The event in `body` (a complete JSON body, lone surrogates already replaced) when it is
/// one of the big ones and has exactly the expected shape; `None` otherwise.
pub(super) fn decode_big_event(body: &[u8], limits: &Limits) -> Option<Event> {
    if names(body, ENUM_CHILDREN_RESULT) {
        CHILDREN_HINT.set(children_in(body, limits));
        let message: Result<Envelope<ChildrenBody>, _> = serde_json::from_slice(body);
        CHILDREN_HINT.set(0);
        let message = message.ok()?;
        if message.kind != "event"
            || message.event != ENUM_CHILDREN_RESULT
            || message.body.children.len() > limits.max_count
        {
            return None;
        }
        let children = message
            .body
            .children
            .into_iter()
            .map(|c| Child { name: c.name, expression: c.expression, value: c.obj.into() })
            .collect();
        return Some(Event::Children { execution_id: message.body.execution_id, children });
    }
    if names(body, THREAD_FRAME_LIST) {
        let message: Envelope<FrameListBody> = serde_json::from_slice(body).ok()?;
        let frames = &message.body.thread_frames;
        if message.kind != "event"
            || message.event != THREAD_FRAME_LIST
            || frames.len() > limits.max_count
            || frames.iter().any(|f| f.variables.len() > limits.max_count)
        {
            return None;
        }
        let frames = message
            .body
            .thread_frames
            .into_iter()
            .map(|f| {
                let django_source = if f.django_source_file.is_some() || f.django_source_line.is_some() {
                    Some((
                        f.django_source_file.flatten().unwrap_or_default(),
                        f.django_source_line.flatten().unwrap_or(0),
                    ))
                } else {
                    None
                };
                Frame {
                    start_line: f.start_line,
                    end_line: f.end_line,
                    line: f.line_no,
                    function: f.frame_name,
                    file: f.file_name,
                    arg_count: f.arg_count,
                    kind: FrameKind::from_wire(f.frame_kind),
                    django_source,
                    variables: f
                        .variables
                        .into_iter()
                        .map(|v| Variable { name: v.name, value: v.obj.into() })
                        .collect(),
                }
            })
            .collect();
        return Some(Event::FrameList { thread: message.body.thread_id, name: message.body.thread_name, frames });
    }
    None
}
