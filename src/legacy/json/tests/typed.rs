//! The typed fast path for children and frame lists decodes exactly what the general
//! (`Value`) path decodes, and leaves everything it does not accept to it.

use bytes::BytesMut;
use serde_json::{json, Value};

use crate::legacy::json::{events, frame, typed};
use crate::legacy::wire::Limits;

/// (typed fast path, general path) for one body.
fn both(message: &Value) -> (Option<crate::legacy::messages::Event>, crate::legacy::messages::Event) {
    let text = message.to_string();
    let typed = typed::decode_big_event(text.as_bytes(), &Limits::default());
    let mut body = BytesMut::from(text.as_bytes());
    let value = frame::parse_body(&mut body).unwrap();
    let general = events::decode_event(
        value["event"].as_str().unwrap().to_string(),
        value.get("body").cloned(),
        &Limits::default(),
    )
    .unwrap();
    (typed, general)
}

fn object(repr: Value) -> Value {
    json!({"objRepr": repr, "hexRepr": null, "typeName": "int", "length": 0, "flags": 0})
}

#[test]
fn children_decode_as_the_general_path_decodes_them() {
    let message = json!({"type": "event", "seq": 3, "event": "legacyEnumChildrenResult", "body": {"executionId": 12, "children": [
        {"name": "[0]", "expression": "items[0]", "obj": object(json!("0"))},
        {"name": "[...]", "expression": null, "obj": object(Value::Null)},
        {"name": null, "expression": "x", "obj": {"objRepr": "'\u{fffd}'", "hexRepr": "0x1", "typeName": null, "length": 3, "flags": 16}},
    ]}});
    let (typed, general) = both(&message);
    assert_eq!(typed, Some(general));
}

#[test]
fn frame_lists_decode_as_the_general_path_decodes_them() {
    let frame = |extra: Value| {
        let mut f = json!({"startLine": 1, "endLine": 9, "lineNo": 4, "frameName": "view", "fileName": "/srv/app.py", "argCount": 1, "frameKind": 2,
            "variables": [{"name": "request", "obj": object(json!("<Request>"))}]});
        f.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        f
    };
    let message = json!({"type": "event", "seq": 4, "event": "legacyThreadFrameList", "body": {"threadId": 77, "threadName": null, "threadFrames": [
        frame(json!({})),
        frame(json!({"djangoSourceFile": "/srv/t.html", "djangoSourceLine": 3})),
        frame(json!({"djangoSourceLine": null})),
    ]}});
    let (typed, general) = both(&message);
    assert_eq!(typed, Some(general));
}

#[test]
fn shapes_the_fast_path_does_not_take_are_left_to_the_general_path() {
    // An integral float is an integer to the general path; the fast path declines it.
    let message = json!({"type": "event", "seq": 3, "event": "legacyEnumChildrenResult", "body": {"executionId": 12.0, "children": []}});
    let (typed, general) = both(&message);
    assert_eq!(typed, None);
    assert_eq!(general, crate::legacy::messages::Event::Children { execution_id: 12, children: vec![] });
    // A missing key, another event, more children than the limit: declined too.
    let missing = json!({"type": "event", "event": "legacyEnumChildrenResult", "body": {"executionId": 1, "children": [{"name": "a", "obj": object(json!("1"))}]}});
    assert_eq!(typed::decode_big_event(missing.to_string().as_bytes(), &Limits::default()), None);
    let other = json!({"type": "event", "event": "legacyThreadCreate", "body": {"threadId": 1, "note": "legacyEnumChildrenResult"}});
    assert_eq!(typed::decode_big_event(other.to_string().as_bytes(), &Limits::default()), None);
    let limits = Limits { max_count: 1, ..Limits::default() };
    let many = json!({"type": "event", "event": "legacyEnumChildrenResult", "body": {"executionId": 1, "children": [
        {"name": "a", "expression": "a", "obj": object(json!("1"))}, {"name": "b", "expression": "b", "obj": object(json!("2"))}]}});
    assert_eq!(typed::decode_big_event(many.to_string().as_bytes(), &limits), None);
}

#[test]
fn a_big_message_is_found_in_ptvsds_key_order_and_in_the_reverse() {
    let children: Vec<Value> = (0..1000)
        .map(
            |i| json!({"name": format!("[{i}]"), "expression": format!("x[{i}]"), "obj": object(json!(i.to_string()))}),
        )
        .collect();
    let body = json!({"executionId": 5, "children": children}).to_string();
    let first = format!(r#"{{"type": "event", "seq": 9, "event": "legacyEnumChildrenResult", "body": {body}}}"#);
    let last = format!(r#"{{"body": {body}, "seq": 9, "event": "legacyEnumChildrenResult", "type": "event"}}"#);
    for text in [first, last] {
        let message: Value = serde_json::from_str(&text).unwrap();
        let typed = typed::decode_big_event(text.as_bytes(), &Limits::default());
        assert!(typed.is_some(), "the fast path missed a children message of {} bytes", text.len());
        assert_eq!(typed, Some(both(&message).1));
    }
}

#[test]
fn children_are_decoded_into_a_vec_of_their_own_size() {
    // A repr holding the key's text does not count: its quotes are escaped.
    let children: Vec<Value> = (0..100)
        .map(|i| json!({"name": format!("[{i}]"), "expression": format!("x[{i}]"), "obj": object(json!("{\"obj\": 1}"))}))
        .collect();
    let message = json!({"type": "event", "seq": 3, "event": "legacyEnumChildrenResult", "body": {"executionId": 1, "children": children}});
    let text = message.to_string();
    assert_eq!(typed::children_in(text.as_bytes(), &Limits::default()), 100);
    match typed::decode_big_event(text.as_bytes(), &Limits::default()) {
        Some(crate::legacy::messages::Event::Children { children, .. }) => {
            assert_eq!((children.len(), children.capacity()), (100, 100));
        }
        other => panic!("not decoded as children: {other:?}"),
    }
    // However many keys a body has, it reserves no more children than its length holds.
    let forged = format!("{{\"x\":{{{}\"obj\":1}}}}", "\"obj\":1,".repeat(1000));
    assert!(typed::children_in(forged.as_bytes(), &Limits::default()) <= forged.len() / 64);
    assert!(typed::children_in(forged.as_bytes(), &Limits { max_count: 10, ..Limits::default() }) <= 10);
}
