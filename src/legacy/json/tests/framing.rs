//! `Content-Length` framing, header errors, size caps and lenient JSON.

use bytes::BytesMut;
use serde_json::{json, Value};

use super::fixtures::framed;
use crate::legacy::error::ProtocolError;
use crate::legacy::json::frame::{replace_lone_surrogates, MAX_HEADER};
use crate::legacy::json::{decode_frame, encode_frame};
use crate::legacy::wire::Limits;

fn decode(bytes: &[u8]) -> Result<Option<Value>, ProtocolError> {
    decode_frame(&mut BytesMut::from(bytes), &Limits::default())
}

fn assert_bad_header(bytes: &[u8]) {
    match decode(bytes) {
        Err(ProtocolError::BadHeader { .. }) => {}
        other => panic!("expected BadHeader for {:?}, got {other:?}", String::from_utf8_lossy(bytes)),
    }
}

#[test]
fn one_frame_is_decoded_and_consumed_exactly() {
    let mut buf = BytesMut::from(&framed(r#"{"a": 1}"#)[..]);
    buf.extend_from_slice(b"Content-Len");
    let value = decode_frame(&mut buf, &Limits::default()).unwrap();
    assert_eq!(value, Some(json!({"a": 1})));
    assert_eq!(&buf[..], b"Content-Len");
}

#[test]
fn a_frame_split_at_every_byte_position_decodes_once_whole() {
    let body = r#"{"type": "event", "seq": 3, "event": "legacyThreadCreate", "body": {"threadId": 139658688338816}}"#;
    let bytes = framed(body);
    for split in 0..bytes.len() {
        let mut buf = BytesMut::from(&bytes[..split]);
        assert_eq!(decode_frame(&mut buf, &Limits::default()).unwrap(), None, "split at {split}");
        assert_eq!(buf.len(), split, "nothing may be consumed before the frame is whole (split at {split})");
        buf.extend_from_slice(&bytes[split..]);
        let value = decode_frame(&mut buf, &Limits::default()).unwrap().unwrap();
        assert_eq!(value["body"]["threadId"], json!(139658688338816i64));
        assert!(buf.is_empty());
    }
}

#[test]
fn header_and_body_in_separate_segments() {
    let mut buf = BytesMut::from(&b"Content-Length: 2\r\n\r\n"[..]);
    assert_eq!(decode_frame(&mut buf, &Limits::default()).unwrap(), None);
    buf.extend_from_slice(b"{}");
    assert_eq!(decode_frame(&mut buf, &Limits::default()).unwrap(), Some(json!({})));
}

#[test]
fn other_headers_spaces_and_bare_newlines_are_tolerated() {
    let cases: &[&[u8]] = &[
        b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        b"Content-Length:2\r\n\r\n{}",
        b"Content-Length: \t 2  \r\n\r\n{}",
        b"  Content-Length : 2\r\n\r\n{}",
        b"content-length: 2\r\n\r\n{}",
        b"Content-Length: 2\n\n{}",
        b"Content-Length: 0002\r\nX-Whatever: a\r\n\r\n{}",
        b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
    ];
    for case in cases {
        assert_eq!(decode(case).unwrap(), Some(json!({})), "{:?}", String::from_utf8_lossy(case));
    }
}

#[test]
fn header_line_without_colon_is_bad() {
    assert_bad_header(b"Content-Length 2\r\n\r\n{}");
    // Detected as soon as the line is complete, without waiting for the rest.
    assert_bad_header(b"garbage\r\n");
}

#[test]
fn header_with_wrong_name_is_bad() {
    assert_bad_header(b"Content-Lenght: 2\r\n\r\n{}");
    assert_bad_header(b"\r\n{}");
}

#[test]
fn non_numeric_lengths_are_bad() {
    for value in ["abc", "", "2x", "0x10", "+2", "1 2", "2.0", "١٢"] {
        assert_bad_header(format!("Content-Length: {value}\r\n\r\n{{}}").as_bytes());
    }
}

#[test]
fn negative_length_is_bad() {
    assert_bad_header(b"Content-Length: -1\r\n\r\n{}");
    assert_bad_header(b"Content-Length: -9223372036854775808\r\n\r\n");
}

#[test]
fn conflicting_lengths_are_bad() {
    assert_bad_header(b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{} ");
}

#[test]
fn huge_lengths_are_refused_before_any_allocation() {
    for length in ["2147483648", "4611686018427387904", "99999999999999999999999999"] {
        let header = format!("Content-Length: {length}\r\n\r\n");
        let mut buf = BytesMut::from(header.as_bytes());
        let capacity = buf.capacity();
        match decode_frame(&mut buf, &Limits::default()) {
            Err(ProtocolError::TooLarge { size, limit, .. }) => {
                assert!(size >= 1 << 31);
                assert_eq!(limit, 256 << 20);
            }
            other => panic!("expected TooLarge for {length}, got {other:?}"),
        }
        assert_eq!(buf.capacity(), capacity);
    }
}

#[test]
fn a_permitted_huge_length_waits_without_allocating() {
    let limits = Limits { max_message: usize::MAX, ..Limits::default() };
    for length in [1u64 << 31, 1 << 62] {
        let header = format!("Content-Length: {length}\r\n\r\n{{");
        let mut buf = BytesMut::from(header.as_bytes());
        let capacity = buf.capacity();
        assert_eq!(decode_frame(&mut buf, &limits).unwrap(), None);
        assert_eq!(buf.capacity(), capacity, "must not reserve the claimed length");
        assert_eq!(buf.len(), header.len());
    }
}

#[test]
fn a_big_message_gets_its_whole_buffer_when_its_header_arrives() {
    let length = 3 << 20;
    let header = format!("Content-Length: {length}\r\n\r\n{{");
    let mut buf = BytesMut::from(header.as_bytes());
    assert_eq!(decode_frame(&mut buf, &Limits::default()).unwrap(), None);
    assert!(buf.capacity() >= header.len() - 1 + length, "reserved {} for a {length}-byte body", buf.capacity());
    assert_eq!(buf.len(), header.len());
}

#[test]
fn a_length_just_above_the_limit_is_too_large() {
    let limits = Limits { max_message: 10, ..Limits::default() };
    assert!(decode_frame(&mut BytesMut::from(&b"Content-Length: 10\r\n\r\n"[..]), &limits).unwrap().is_none());
    assert!(matches!(
        decode_frame(&mut BytesMut::from(&b"Content-Length: 11\r\n\r\n"[..]), &limits),
        Err(ProtocolError::TooLarge { size: 11, limit: 10, .. })
    ));
}

#[test]
fn endless_header_is_bad() {
    // No newline at all.
    let mut bytes = b"Content-Length: 2".to_vec();
    bytes.resize(MAX_HEADER, b'0');
    assert_eq!(decode(&bytes).unwrap(), None);
    bytes.push(b'0');
    assert_bad_header(&bytes);
    // Many short header lines, never an empty one.
    let lines: Vec<u8> = b"X-A: b\r\n".iter().copied().cycle().take(MAX_HEADER + 16).collect();
    assert_bad_header(&lines);
}

#[test]
fn invalid_json_is_reported_and_consumed() {
    for body in ["{not json}", "{\"a\": 1", "", "{\"a\": 1} trailing", "\\udc80"] {
        let mut buf = BytesMut::from(&framed(body)[..]);
        match decode_frame(&mut buf, &Limits::default()) {
            Err(ProtocolError::InvalidJson { .. }) => {}
            other => panic!("expected InvalidJson for {body:?}, got {other:?}"),
        }
        assert!(buf.is_empty());
    }
}

#[test]
fn deeply_nested_json_is_an_error_not_a_stack_overflow() {
    let body = "[".repeat(100_000);
    assert!(matches!(decode(&framed(&body)), Err(ProtocolError::InvalidJson { .. })));
}

fn decode_string(escaped: &str) -> String {
    let body = format!("{{\"output\": \"{escaped}\"}}");
    let value = decode(&framed(&body)).unwrap().unwrap();
    value["output"].as_str().unwrap().to_owned()
}

#[test]
fn lone_surrogates_decode_as_replacement_characters() {
    assert_eq!(decode_string(r"\udc80"), "\u{FFFD}");
    assert_eq!(decode_string(r"a\uDC80b"), "a\u{FFFD}b");
    assert_eq!(decode_string(r"\ud800"), "\u{FFFD}");
    assert_eq!(decode_string(r"\ud800x"), "\u{FFFD}x");
    assert_eq!(decode_string(r"\ud800\ud800\udc00"), "\u{FFFD}\u{10000}");
    assert_eq!(decode_string(r"\udc00\ud800"), "\u{FFFD}\u{FFFD}");
    assert_eq!(decode_string(r"\ud800\n"), "\u{FFFD}\n");
    assert_eq!(decode_string(r"\ud800\u0041"), "\u{FFFD}A");
}

#[test]
fn valid_escapes_are_left_alone() {
    assert_eq!(decode_string(r"\ud83d\ude00"), "\u{1F600}");
    assert_eq!(decode_string(r"\uD83D\uDE00"), "\u{1F600}");
    assert_eq!(decode_string(r"\u00e9\u4e2d"), "é中");
    // An escaped backslash followed by text that looks like an escape.
    assert_eq!(decode_string(r"\\udc80"), r"\udc80");
    assert_eq!(decode_string(r"\\\udc80"), "\\\u{FFFD}");
    assert_eq!(decode_string(r#"\"\\\/\b\f\n\r\t"#), "\"\\/\u{8}\u{c}\n\r\t");
}

#[test]
fn surrogate_rewrite_keeps_the_length_and_ignores_truncated_escapes() {
    let mut bytes = br#""\udc80\ud8"#.to_vec();
    let before = bytes.len();
    replace_lone_surrogates(&mut bytes);
    assert_eq!(bytes, br#""\uFFFD\ud8"#);
    assert_eq!(bytes.len(), before);
    let mut trailing = b"\\".to_vec();
    replace_lone_surrogates(&mut trailing);
    assert_eq!(trailing, b"\\");
}

#[test]
fn invalid_utf8_is_replaced() {
    let mut bytes = b"Content-Length: 11\r\n\r\n{\"a\": \"".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    bytes.extend_from_slice(b"\"}");
    assert_eq!(decode(&bytes).unwrap(), Some(json!({"a": "\u{FFFD}\u{FFFD}"})));
}

#[test]
fn encode_frame_appends_header_and_body() {
    let mut dst = BytesMut::from(&b"xy"[..]);
    let value = json!({"text": "é\u{1F600}"});
    encode_frame(&value, &mut dst);
    let body = value.to_string();
    let expected = format!("xyContent-Length: {}\r\n\r\n{body}", body.len());
    assert_eq!(&dst[..], expected.as_bytes());
    assert_eq!(body.len(), 17, "the length counts UTF-8 bytes, not characters");
    let _ = dst.split_to(2);
    assert_eq!(decode_frame(&mut dst, &Limits::default()).unwrap(), Some(value));
}
