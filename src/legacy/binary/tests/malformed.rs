//! Malformed, hostile and incomplete input, and what versions refuse to carry.

use bytes::BytesMut;
use tokio_util::codec::Decoder;

use super::{decode_event, encode_command, encode_event, hex, i64_bytes, message, EXTRAS, MAIN};
use crate::legacy::binary::{BinaryClientCodec, BinaryServerCodec};
use crate::legacy::messages::{
    Command, ConditionKind, Event, ExceptionStop, Frame, FrameKind, HandlerStatement, OutputChannel, PassCountKind,
    ReprKind,
};
use crate::legacy::wire::Limits;
use crate::legacy::ProtocolError;

fn client() -> BinaryClientCodec {
    BinaryClientCodec::new(6, Limits::default())
}

fn decode(codec: &mut BinaryClientCodec, bytes: &[u8]) -> (Result<Option<Event>, ProtocolError>, usize) {
    let mut src = BytesMut::from(bytes);
    let result = codec.decode(&mut src);
    (result, src.len())
}

/// `MODL` + module id + the given string bytes.
fn module_load(string: &[u8]) -> Vec<u8> {
    [&b"MODL"[..], &i64_bytes(7), string].concat()
}

/// Split at every byte position: nothing is consumed until the message is complete, then
/// exactly the message is, with the same result as in one piece.
#[test]
fn a_message_split_at_every_position_decodes_only_when_complete() {
    let samples = [
        message(MAIN, "event THRF", 1),
        message(MAIN, "event CHLD", 1),
        message(MAIN, "event OUTP", 0),
        message(MAIN, "event BRKH", 0),
        message(EXTRAS, "event EXC2", 0),
        message(MAIN, "event DETC", 0),
    ];
    for bytes in samples {
        let expected = decode_event(6, &bytes).unwrap();
        for split in 0..bytes.len() {
            let mut codec = client();
            let mut src = BytesMut::from(&bytes[..split]);
            assert!(codec.decode(&mut src).unwrap().is_none(), "split at {split}");
            assert_eq!(src.len(), split, "consumed bytes of an incomplete message");
            // A second look at the same bytes (e.g. a spurious wake-up) changes nothing.
            assert!(codec.decode(&mut src).unwrap().is_none());
            src.extend_from_slice(&bytes[split..]);
            // And the next message's first bytes stay where they are.
            src.extend_from_slice(b"DET");
            assert_eq!(codec.decode(&mut src).unwrap().as_ref(), Some(&expected), "split at {split}");
            assert_eq!(&src[..], b"DET");
        }
    }
}

#[test]
fn a_command_split_at_every_position_decodes_only_when_complete() {
    let bytes = message(EXTRAS, "sehi (reply to REQH)", 0);
    for split in 0..bytes.len() {
        let mut codec = BinaryServerCodec::new(6, Limits::default());
        let mut src = BytesMut::from(&bytes[..split]);
        assert!(codec.decode(&mut src).unwrap().is_none(), "split at {split}");
        assert_eq!(src.len(), split);
        src.extend_from_slice(&bytes[split..]);
        assert!(matches!(codec.decode(&mut src).unwrap(), Some(Command::SetExceptionHandlerInfo { .. })));
        assert!(src.is_empty());
    }
}

#[test]
fn an_unknown_tag_is_fatal() {
    let (result, left) = decode(&mut client(), b"XXXX\0\0\0\0\0\0\0\x01");
    assert!(matches!(result, Err(ProtocolError::UnknownTag { ref tag }) if tag == "XXXX"), "{result:?}");
    assert_eq!(left, 12);
    // Never sent by ptvsd (spec §3.3), so unknown too.
    assert!(matches!(decode(&mut client(), b"EXIT").0, Err(ProtocolError::UnknownTag { .. })));
    // Command tags are not events.
    assert!(matches!(decode(&mut client(), b"resa").0, Err(ProtocolError::UnknownTag { .. })));
}

#[test]
fn an_unknown_command_tag_is_fatal_for_the_fake_server() {
    let mut src = BytesMut::from(&b"exit"[..]);
    let result = BinaryServerCodec::new(6, Limits::default()).decode(&mut src);
    assert!(matches!(result, Err(ProtocolError::UnknownTag { ref tag }) if tag == "exit"), "{result:?}");
    // v2/v4 servers have no bkpc/bkgh/bksh: their command loop would end there.
    for tag in [b"bkpc", b"bkgh", b"bksh"] {
        let mut src = BytesMut::from(&[&tag[..], &[0u8; 16]].concat()[..]);
        let result = BinaryServerCodec::new(4, Limits::default()).decode(&mut src);
        assert!(matches!(result, Err(ProtocolError::UnknownTag { .. })), "{result:?}");
    }
}

#[test]
fn a_bad_string_kind_byte_is_refused() {
    let bytes = module_load(b"Q\0\0\0\0\0\0\0\x01x");
    let (result, left) = decode(&mut client(), &bytes);
    assert!(matches!(result, Err(ProtocolError::BadStringKind { byte: b'Q', .. })), "{result:?}");
    assert_eq!(left, bytes.len());
}

#[test]
fn a_negative_length_is_refused() {
    let (result, _) = decode(&mut client(), &module_load(&[&b"U"[..], &i64_bytes(-1)].concat()));
    assert!(matches!(result, Err(ProtocolError::NegativeLength { value: -1, .. })), "{result:?}");
    // Also in client strings read by the fake server.
    let bytes = [&b"exec"[..], &i64_bytes(i64::MIN)].concat();
    let result = BinaryServerCodec::new(6, Limits::default()).decode(&mut BytesMut::from(&bytes[..]));
    assert!(matches!(result, Err(ProtocolError::NegativeLength { .. })), "{result:?}");
}

#[test]
fn a_length_of_two_to_the_62_is_refused() {
    let (result, _) = decode(&mut client(), &module_load(&[&b"U"[..], &i64_bytes(1 << 62)].concat()));
    assert!(matches!(result, Err(ProtocolError::TooLarge { size, .. }) if size == 1 << 62), "{result:?}");
}

#[test]
fn a_count_of_two_to_the_62_is_refused() {
    let thrf = [&b"THRF"[..], &i64_bytes(1), b"N", &i64_bytes(1 << 62)].concat();
    let (result, _) = decode(&mut client(), &thrf);
    assert!(matches!(result, Err(ProtocolError::TooLarge { what: "stack frames", .. })), "{result:?}");

    let chld = [&b"CHLD"[..], &i64_bytes(1), &i64_bytes(1 << 62)].concat();
    let (result, _) = decode(&mut client(), &chld);
    assert!(matches!(result, Err(ProtocolError::TooLarge { what: "children", .. })), "{result:?}");

    let exc2 = [&b"EXC2"[..], &i64_bytes(1), &i64_bytes(-5)].concat();
    let (result, _) = decode(&mut client(), &exc2);
    assert!(matches!(result, Err(ProtocolError::NegativeLength { value: -5, .. })), "{result:?}");

    // A count within the cap but without the elements: wait, and allocate nothing for them.
    let thrf = [&b"THRF"[..], &i64_bytes(1), b"N", &i64_bytes(1 << 20)].concat();
    let (result, left) = decode(&mut client(), &thrf);
    assert!(matches!(result, Ok(None)), "{result:?}");
    assert_eq!(left, thrf.len());
}

/// A 100 MB string claim with only a few bytes present.
#[test]
fn a_huge_string_claim_allocates_nothing() {
    let claim = module_load(&[&b"U"[..], &i64_bytes(100_000_000), b"abc"].concat());

    // Above the string cap (64 MiB by default): refused at once.
    let (result, _) = decode(&mut client(), &claim);
    assert!(matches!(result, Err(ProtocolError::TooLarge { size: 100_000_000, .. })), "{result:?}");

    // Within both caps: wait for the rest, and do not reserve room for it.
    let limits = Limits { max_string: 128 << 20, max_message: 256 << 20, ..Limits::default() };
    let mut codec = BinaryClientCodec::new(6, limits);
    let mut src = BytesMut::from(&claim[..]);
    let capacity = src.capacity();
    assert!(codec.decode(&mut src).unwrap().is_none());
    assert_eq!((src.len(), src.capacity()), (claim.len(), capacity));
    // More small chunks: still waiting (without re-parsing), still nothing consumed.
    for _ in 0..100 {
        src.extend_from_slice(b"0123456789");
        assert!(codec.decode(&mut src).unwrap().is_none());
    }
    assert_eq!(src.len(), claim.len() + 1000);

    // Within the string cap but above the message cap: refused at once.
    let limits = Limits { max_string: 128 << 20, max_message: 64 << 20, ..Limits::default() };
    let (result, left) = decode(&mut BinaryClientCodec::new(6, limits), &claim);
    assert!(matches!(result, Err(ProtocolError::TooLarge { what: "a message", .. })), "{result:?}");
    assert_eq!(left, claim.len());
}

/// What ptvsd sent after the program printed `'\udc80'` (transcript_v6_misc.txt, the
/// `UNPARSEABLE` dump): `OUTP` + tid, then straight into the next `THRF`.
#[test]
fn the_recorded_truncated_output_is_reported_as_such() {
    let bytes = hex("4f 55 54 50 00 00 7f 40 fc e3 bb 80 54 48 52 46 00 00 7f 40 fc e3 bb 80 55 00 00 00 00 00 00 00
         0a 4d 61 69 6e 54 68 72 65 61 64 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 01 00 00 00 00 00
         00 01 04 00 00 00 00 00 00 00 02 55 00");
    assert_eq!(bytes.len(), 77);
    let (result, _) = decode(&mut client(), &bytes);
    assert!(matches!(result, Err(ProtocolError::TruncatedOutput)), "{result:?}");
    // Already decidable from the one byte after the tid.
    let (result, _) = decode(&mut client(), &bytes[..13]);
    assert!(matches!(result, Err(ProtocolError::TruncatedOutput)), "{result:?}");
}

#[test]
fn a_truncated_output_before_any_other_event_is_reported_as_such() {
    let tid = i64_bytes(42);
    let truncated = [&b"OUTP"[..], &tid].concat();

    // ASBR: `A` is a valid kind byte, "SBR…" an absurd length.
    let (result, _) = decode(&mut client(), &[&truncated[..], b"ASBR", &tid].concat());
    assert!(matches!(result, Err(ProtocolError::TruncatedOutput)), "{result:?}");

    // NEWT: `N` is a null string, so the OUTP looks complete; "EWT…" then gives it away.
    let mut codec = client();
    let mut src = BytesMut::from(&[&truncated[..], b"NEWT", &tid].concat()[..]);
    let first = codec.decode(&mut src).unwrap();
    assert_eq!(first, Some(Event::Output { thread: 42, text: String::new(), channel: OutputChannel::Unknown }));
    assert!(matches!(codec.decode(&mut src), Err(ProtocolError::TruncatedOutput)));

    // The end of the stream.
    let mut src = BytesMut::from(&truncated[..]);
    assert!(matches!(client().decode_eof(&mut src), Err(ProtocolError::TruncatedOutput)));

    // Every other tag.
    for tag in [&b"THRF"[..], b"OUTP", b"DETC", b"MODL", b"EXTT", b"LOAD", b"BRKH"] {
        let (result, _) = decode(&mut client(), &[&truncated[..], tag, &tid].concat());
        assert!(matches!(result, Err(ProtocolError::TruncatedOutput)), "{result:?}");
    }
}

#[test]
fn a_null_output_followed_by_a_real_event_is_fine() {
    let mut codec = client();
    let mut src = BytesMut::from(&[&b"OUTP"[..], &i64_bytes(1), b"N", b"DETC"].concat()[..]);
    assert!(matches!(codec.decode(&mut src), Ok(Some(Event::Output { .. }))));
    assert_eq!(codec.decode(&mut src).unwrap(), Some(Event::Detach));
}

#[test]
fn an_incomplete_message_above_the_message_cap_is_refused() {
    let limits = Limits { max_message: 1024, ..Limits::default() };
    let thrf = message(MAIN, "event THRF", 1);
    assert!(thrf.len() > 2048);

    // Incomplete, with more than the cap buffered.
    let mut codec = BinaryClientCodec::new(6, limits);
    let mut src = BytesMut::from(&thrf[..1500]);
    let result = codec.decode(&mut src);
    assert!(matches!(result, Err(ProtocolError::TooLarge { what: "a message", limit: 1024, .. })), "{result:?}");
    assert_eq!(src.len(), 1500);

    // Below the cap so far: wait; the cap trips as soon as the message outgrows it.
    let mut codec = BinaryClientCodec::new(6, limits);
    let mut src = BytesMut::from(&thrf[..512]);
    assert!(codec.decode(&mut src).unwrap().is_none());
    src.extend_from_slice(&thrf[512..1100]);
    assert!(matches!(codec.decode(&mut src), Err(ProtocolError::TooLarge { .. })));

    // In one piece: the same verdict.
    let mut codec = BinaryClientCodec::new(6, limits);
    let result = codec.decode(&mut BytesMut::from(&thrf[..]));
    assert!(matches!(result, Err(ProtocolError::TooLarge { .. })), "{result:?}");
}

#[test]
fn the_stream_ending_inside_a_message_is_an_error() {
    let thrf = message(MAIN, "event THRF", 1);
    let mut src = BytesMut::from(&thrf[..100]);
    let result = client().decode_eof(&mut src);
    assert!(matches!(result, Err(ProtocolError::Malformed { ref detail }) if detail.contains("THRF")), "{result:?}");
    assert!(client().decode_eof(&mut BytesMut::new()).unwrap().is_none());
}

#[test]
fn commands_a_version_lacks_are_unsupported() {
    let lacking = [
        Command::SetBreakpointPassCount { id: 1, pass_count_kind: PassCountKind::EveryNth, pass_count: 2 },
        Command::SetBreakpointHitCount { id: 1, hit_count: 0 },
        Command::GetBreakpointHitCount { request_id: 1, id: 1 },
        Command::SetBreakpoint {
            id: 1,
            line: 1,
            file: "a.py".into(),
            condition_kind: ConditionKind::Always,
            condition: String::new(),
            pass_count_kind: PassCountKind::WhenEqual,
            pass_count: 3,
        },
        Command::SetBreakpointCondition { id: 1, condition_kind: ConditionKind::Other(7), condition: "x".into() },
    ];
    for version in [2, 4] {
        for command in lacking.clone() {
            let result = encode_command(version, command.clone());
            assert!(
                matches!(result, Err(ProtocolError::Unsupported { version: v, .. }) if v == version),
                "{command:?}"
            );
        }
    }
    for command in lacking {
        assert!(encode_command(6, command).is_ok());
    }
    let raw = Command::Execute {
        text: "s".into(),
        thread: 1,
        frame: 0,
        execution_id: 1,
        frame_kind: FrameKind::Python,
        repr_kind: ReprKind::Raw,
    };
    assert!(matches!(encode_command(2, raw.clone()), Err(ProtocolError::Unsupported { version: 2, .. })));
    assert!(encode_command(4, raw).is_ok());
}

#[test]
fn a_sehi_expression_that_reads_as_the_terminator_is_refused() {
    let command = Command::SetExceptionHandlerInfo {
        file: "a.py".into(),
        statements: vec![HandlerStatement { start_line: 1, end_line: 2, expressions: vec![" - ".into()] }],
    };
    assert!(matches!(encode_command(6, command), Err(ProtocolError::Unsupported { .. })));
}

#[test]
fn json_only_events_cannot_be_written() {
    for event in [
        Event::ModulesChanged,
        Event::CommandFailed {
            command: crate::legacy::messages::FailedCommand::Other("x".into()),
            message: "y".into(),
        },
        Event::Unknown { name: "z".into() },
    ] {
        assert!(matches!(encode_event(6, event), Err(ProtocolError::Unsupported { .. })));
    }
}

/// Layouts not in the transcripts: v2/v4 commands (from `probe_old.py`), v2 records.
#[test]
fn old_layouts_match_the_probe() {
    let tid = 140_101_837_298_560;
    let file = "/opt/peer/target.py";
    let cstr = |s: &str| [&i64_bytes(s.len() as i64)[..], s.as_bytes()].concat();
    // brkp v2/v4: id, line, file, condition, break-when-changed.
    let brkp = Command::SetBreakpoint {
        id: 1,
        line: 11,
        file: file.into(),
        condition_kind: ConditionKind::Always,
        condition: "ignored".into(),
        pass_count_kind: PassCountKind::Always,
        pass_count: 0,
    };
    let expected = [&b"brkp"[..], &i64_bytes(1), &i64_bytes(11), &cstr(file), &cstr(""), &i64_bytes(0)].concat();
    assert_eq!(encode_command(2, brkp.clone()).unwrap(), expected);
    assert_eq!(encode_command(4, brkp).unwrap(), expected);
    // brkc v2/v4: id, condition, break-when-changed.
    let brkc =
        Command::SetBreakpointCondition { id: 3, condition_kind: ConditionKind::WhenChanged, condition: "n".into() };
    let expected = [&b"brkc"[..], &i64_bytes(3), &cstr("n"), &i64_bytes(1)].concat();
    assert_eq!(encode_command(4, brkc).unwrap(), expected);
    // exec v2: no repr kind.
    let exec = Command::Execute {
        text: "n + 40".into(),
        thread: tid,
        frame: 0,
        execution_id: 5,
        frame_kind: FrameKind::Python,
        repr_kind: ReprKind::Normal,
    };
    let v4 = [&b"exec"[..], &cstr("n + 40"), &i64_bytes(tid), &i64_bytes(0), &i64_bytes(5), &i64_bytes(1)].concat();
    assert_eq!(encode_command(2, exec.clone()).unwrap(), v4);
    assert_eq!(encode_command(4, exec).unwrap(), [&v4[..], &i64_bytes(0)].concat());
    // chld v2: an extra child-is-enumerate 0.
    let chld = Command::EnumChildren {
        text: "data".into(),
        thread: tid,
        frame: 0,
        execution_id: 6,
        frame_kind: FrameKind::Python,
    };
    let v4 = [&b"chld"[..], &cstr("data"), &i64_bytes(tid), &i64_bytes(0), &i64_bytes(6), &i64_bytes(1)].concat();
    assert_eq!(encode_command(4, chld.clone()).unwrap(), v4);
    assert_eq!(encode_command(2, chld).unwrap(), [&v4[..], &i64_bytes(0)].concat());
}

/// v2 `CHLD` for `data = [0, 0, {'k': 0}]` as the v2 smoke test saw it: no attributes,
/// three indices, indicesAreIndex 1, indicesAreEnumerate 0.
#[test]
fn v2_children_have_no_expressions() {
    let sstr = |s: &str| [&b"U"[..], &i64_bytes(s.len() as i64), s.as_bytes()].concat();
    let object = |repr: &str, hex: Option<&str>, type_name: &str, expandable: i64| {
        [sstr(repr), hex.map_or(b"N".to_vec(), sstr), sstr(type_name), i64_bytes(expandable).to_vec()].concat()
    };
    let bytes = [
        &b"CHLD"[..],
        &i64_bytes(6),
        &i64_bytes(0),
        &i64_bytes(3),
        &i64_bytes(1),
        &i64_bytes(0),
        &sstr("[0]"),
        &object("0", Some("0x0"), "int", 0),
        &sstr("[1]"),
        &object("0", Some("0x0"), "int", 0),
        &sstr("[2]"),
        &object("{'k': 0}", None, "dict", 1),
    ]
    .concat();
    let Event::Children { execution_id, children } = decode_event(2, &bytes).unwrap() else { panic!("not CHLD") };
    assert_eq!(execution_id, 6);
    let seen: Vec<_> = children
        .iter()
        .map(|c| (c.name.as_str(), c.expression.as_deref(), c.value.repr.as_deref(), c.value.length, c.value.flags))
        .collect();
    assert_eq!(
        seen,
        [("[0]", None, Some("0"), 0, 0), ("[1]", None, Some("0"), 0, 0), ("[2]", None, Some("{'k': 0}"), 0, 1)]
    );
    // The fake v2 server writes the same layout.
    assert_eq!(encode_event(2, Event::Children { execution_id, children }).unwrap(), bytes);
}

#[test]
fn django_frames_carry_their_python_source() {
    let sstr = |s: &str| [&b"U"[..], &i64_bytes(s.len() as i64), s.as_bytes()].concat();
    let bytes = [
        &b"THRF"[..],
        &i64_bytes(9),
        b"N",
        &i64_bytes(1),
        &i64_bytes(1),
        &i64_bytes(4),
        &i64_bytes(3),
        &sstr("render"),
        &sstr("/app/templates/index.html"),
        &i64_bytes(0),
        &i64_bytes(2),
        &sstr("/app/views.py"),
        &i64_bytes(17),
        &i64_bytes(0),
    ]
    .concat();
    let Event::FrameList { thread, name, frames } = decode_event(6, &bytes).unwrap() else { panic!("not THRF") };
    assert_eq!((thread, name), (9, None));
    assert_eq!(frames[0].kind, FrameKind::Django);
    assert_eq!(frames[0].django_source, Some(("/app/views.py".into(), 17)));
    assert_eq!(frames[0].file, "/app/templates/index.html");

    // A frame kind built as `Other(2)` is a Django frame on the wire: the writer must
    // still emit the source fields, or the stream would desynchronise.
    let frame = Frame { kind: FrameKind::Other(2), django_source: None, ..frames[0].clone() };
    let event = Event::FrameList { thread: 9, name: None, frames: vec![frame] };
    let Event::FrameList { frames, .. } = decode_event(6, &encode_event(6, event).unwrap()).unwrap() else {
        panic!("not THRF")
    };
    assert_eq!(frames[0].django_source, Some((String::new(), 0)));
}

#[test]
fn rich_exceptions_ignore_unknown_keys_and_read_nulls() {
    let sstr = |s: &str| [&b"U"[..], &i64_bytes(s.len() as i64), s.as_bytes()].concat();
    let bytes = [
        &b"EXC2"[..],
        &i64_bytes(3),
        &i64_bytes(5),
        &sstr("frobnicate"),
        &sstr("whatever"),
        &sstr("breaktype"),
        &sstr("unhandled"),
        &sstr("message"),
        b"N",
        b"N",
        &sstr("ignored: null key"),
        &sstr("typename"),
        &sstr("KeyError"),
    ]
    .concat();
    assert_eq!(
        decode_event(6, &bytes).unwrap(),
        Event::Exception(ExceptionStop {
            thread: 3,
            type_name: "KeyError".into(),
            message: String::new(),
            unhandled: true,
            trace: None,
            exc_value: None,
            rich: true,
        })
    );
}

#[test]
fn plain_exceptions_are_unhandled_only_for_break_type_one() {
    let sstr = |s: &str| [&b"U"[..], &i64_bytes(s.len() as i64), s.as_bytes()].concat();
    for (break_type, unhandled) in [(0, false), (1, true), (2, false)] {
        let bytes = [&b"EXCP"[..], &sstr("builtins.ValueError"), &i64_bytes(4), &i64_bytes(break_type), b"N"].concat();
        let Event::Exception(stop) = decode_event(2, &bytes).unwrap() else { panic!("not EXCP") };
        assert_eq!((stop.unhandled, stop.rich, stop.message.as_str()), (unhandled, false, ""));
    }
}

#[test]
fn set_line_results_decode() {
    let bytes = [&b"SETL"[..], &i64_bytes(0), &i64_bytes(77), &i64_bytes(0)].concat();
    assert_eq!(decode_event(6, &bytes).unwrap(), Event::SetLineResult { ok: false, thread: 77, line: 0 });
    let bytes = [&b"SETL"[..], &i64_bytes(1), &i64_bytes(77), &i64_bytes(12)].concat();
    assert_eq!(decode_event(6, &bytes).unwrap(), Event::SetLineResult { ok: true, thread: 77, line: 12 });
}

#[test]
fn latin1_output_decodes_byte_per_char() {
    let bytes = [&b"OUTP"[..], &i64_bytes(1), b"A", &i64_bytes(3), &[0x63, 0x61, 0xe9]].concat();
    assert_eq!(
        decode_event(6, &bytes).unwrap(),
        Event::Output { thread: 1, text: "caé".into(), channel: OutputChannel::Unknown }
    );
}
