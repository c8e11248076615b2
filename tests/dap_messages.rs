//! Every message the DAP layer can send, checked against the official DAP schema: each
//! outgoing body type, filled with representative values and with every optional field
//! `None`, wrapped in its response or event, numbered by the real writer, framed by the
//! real codec, then validated (strictly: no property the schema does not define) and
//! searched for `null`s.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod dap_schema;

use futures_util::StreamExt;
use ptvsd_dap::dap::bodies::*;
use ptvsd_dap::dap::{self, DapWriter, ErrorDetails, Event, Frame, Message, Request, Response};
use serde::Serialize;
use serde_json::{json, Value};

use dap_schema::{definition_for, nulls_in, validate_dap_message, validate_dap_message_strict};

fn request(command: &str) -> Request {
    Request { seq: 41, command: command.to_owned(), arguments: None }
}

/// Sends `messages` through a `DapWriter` and reads them back as raw JSON.
async fn round_trip(messages: Vec<Message>) -> Vec<Value> {
    let count = messages.len();
    let (ours, theirs) = tokio::io::duplex(1 << 20);
    let writer = tokio::spawn(async move {
        let mut writer = DapWriter::new(ours);
        for message in messages {
            writer.send(message).await.unwrap();
        }
    });
    let frames: Vec<Frame> = dap::reader(theirs).take(count).map(|f| f.unwrap()).collect().await;
    writer.await.unwrap();
    frames
        .into_iter()
        .map(|frame| match frame {
            Frame::Json(value) => value,
            other => panic!("the writer produced {other:?}"),
        })
        .collect()
}

/// Validates each message strictly and checks it has no `null`. Returns the definitions used.
fn check_all(values: &[Value]) -> Vec<String> {
    let mut failures = Vec::new();
    for value in values {
        if let Err(error) = validate_dap_message_strict(value) {
            failures.push(error);
        }
        let nulls = nulls_in(value);
        if !nulls.is_empty() {
            failures.push(format!("{value} has null at {nulls:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    values.iter().map(definition_for).collect()
}

fn success<B: Serialize>(command: &str, body: &B) -> Message {
    Response::success(&request(command), body).into()
}

fn source() -> Source {
    Source {
        name: Some("app.py".into()),
        path: Some("/home/me/project/app.py".into()),
        source_reference: Some(0),
        presentation_hint: Some(SourcePresentationHint::Emphasize),
        origin: Some("remote".into()),
        sources: Some(vec![Source { name: Some("gen.py".into()), ..Default::default() }]),
        adapter_data: Some(json!({"remotePath": "/home/site/wwwroot/app.py"})),
        checksums: Some(vec![Checksum { algorithm: ChecksumAlgorithm::Sha256, checksum: "ab12".into() }]),
    }
}

fn breakpoint() -> Breakpoint {
    Breakpoint {
        id: Some(3),
        verified: false,
        message: Some("Not yet bound".into()),
        source: Some(source()),
        line: Some(10),
        column: Some(1),
        end_line: Some(10),
        end_column: Some(20),
        instruction_reference: Some("0x10".into()),
        offset: Some(-2),
        reason: Some(BreakpointReason::Pending),
    }
}

fn hint() -> VariablePresentationHint {
    VariablePresentationHint {
        kind: Some("property".into()),
        attributes: Some(vec!["readOnly".into(), "someFutureAttribute".into()]),
        visibility: Some("private".into()),
        lazy: Some(false),
    }
}

/// The body of an expanded value's children: one variable with every field it can have, one
/// with none of the optional ones.
fn listed_variables() -> VariableListBody {
    VariableListBody {
        variables: vec![
            ListedVariable {
                name: "[0]".into(),
                value: "0x7b".into(),
                type_: Some("int".into()),
                evaluate_name: Some("big_list[0]".into()),
                variables_reference: 3,
                indexed_variables: Some(4),
            },
            ListedVariable { name: "[...]".into(), value: String::new(), ..ListedVariable::default() },
        ],
    }
}

/// A list of children is written exactly as `Variable`s with the same fields.
#[test]
fn listed_variables_are_written_as_variables() {
    let listed = listed_variables();
    let variables = VariablesResponseBody { variables: listed.variables.iter().cloned().map(Variable::from).collect() };
    assert_eq!(serde_json::to_string(&listed).unwrap(), serde_json::to_string(&variables).unwrap());
    let response = Response::with_typed_body(&request("variables"), Some(listed.into()));
    let written = serde_json::to_value(&response).unwrap();
    assert_eq!(written["body"], serde_json::to_value(&variables).unwrap());
}

fn module() -> Module {
    Module {
        id: ModuleId::String("app".into()),
        name: "app".into(),
        path: Some("/home/site/wwwroot/app.py".into()),
        is_optimized: Some(false),
        is_user_code: Some(true),
        version: Some("1.0".into()),
        symbol_status: Some("Symbols loaded.".into()),
        symbol_file_path: Some("/x.pdb".into()),
        date_time_stamp: Some("2026-01-01".into()),
        address_range: Some("0-1".into()),
    }
}

/// Every capability set, including every boolean the schema defines (checked separately).
fn full_capabilities() -> Capabilities {
    Capabilities {
        exception_breakpoint_filters: Some(vec![
            ExceptionBreakpointsFilter {
                filter: "raised".into(),
                label: "Raised Exceptions".into(),
                description: Some("Break whenever any exception is raised".into()),
                default: Some(false),
                supports_condition: Some(true),
                condition_description: Some("e.g. isinstance(e, ValueError)".into()),
            },
            ExceptionBreakpointsFilter {
                filter: "uncaught".into(),
                label: "Uncaught Exceptions".into(),
                ..Default::default()
            },
        ]),
        completion_trigger_characters: Some(vec![".".into(), "[".into()]),
        supported_checksum_algorithms: Some(vec![ChecksumAlgorithm::Md5, ChecksumAlgorithm::Timestamp]),
        ..every_boolean_capability()
    }
}

fn every_boolean_capability() -> Capabilities {
    let schema: Value =
        serde_json::from_str(include_str!("fixtures/debugAdapterProtocol.json")).expect("the schema is JSON");
    let properties = schema["definitions"]["Capabilities"]["properties"].as_object().expect("properties");
    let all_true: serde_json::Map<String, Value> = properties
        .iter()
        .filter(|(_, property)| property["type"] == "boolean")
        .map(|(name, _)| (name.clone(), Value::Bool(true)))
        .collect();
    serde_json::from_value(Value::Object(all_true)).unwrap()
}

#[test]
fn capabilities_cover_every_boolean_in_the_schema() {
    let schema: Value = serde_json::from_str(include_str!("fixtures/debugAdapterProtocol.json")).unwrap();
    let properties = schema["definitions"]["Capabilities"]["properties"].as_object().unwrap();
    let serialized = serde_json::to_value(every_boolean_capability()).unwrap();
    let missing: Vec<&String> = properties
        .iter()
        .filter(|(name, property)| property["type"] == "boolean" && serialized.get(name.as_str()).is_none())
        .map(|(name, _)| name)
        .collect();
    assert!(missing.is_empty(), "Capabilities lacks {missing:?}");
}

/// Every response body, with every field set.
fn full_responses() -> Vec<Message> {
    let frame = StackFrame {
        id: 1,
        name: "handler".into(),
        source: Some(source()),
        line: 12,
        column: 1,
        end_line: Some(12),
        end_column: Some(9),
        can_restart: Some(false),
        instruction_pointer_reference: Some("0x1".into()),
        module_id: Some(ModuleId::Number(4)),
        presentation_hint: Some(StackFramePresentationHint::Subtle),
    };
    let variable = Variable {
        name: "x".into(),
        value: "[1, 2]".into(),
        type_: Some("list".into()),
        presentation_hint: Some(hint()),
        evaluate_name: Some("x".into()),
        variables_reference: 7,
        named_variables: Some(1),
        indexed_variables: Some(2),
        memory_reference: Some("0x7f".into()),
    };
    let scope = Scope {
        name: "Locals".into(),
        presentation_hint: Some("locals".into()),
        variables_reference: 5,
        named_variables: Some(3),
        indexed_variables: Some(0),
        expensive: false,
        source: Some(source()),
        line: Some(1),
        column: Some(1),
        end_line: Some(30),
        end_column: Some(1),
    };
    let details = ExceptionDetails {
        message: Some("boom".into()),
        type_name: Some("ValueError".into()),
        full_type_name: Some("builtins.ValueError".into()),
        evaluate_name: Some("__exception__".into()),
        stack_trace: Some("Traceback ...".into()),
        inner_exception: Some(vec![ExceptionDetails { message: Some("cause".into()), ..Default::default() }]),
    };
    vec![
        success("initialize", &full_capabilities()),
        success(
            "setBreakpoints",
            &SetBreakpointsResponseBody { breakpoints: vec![breakpoint(), Breakpoint::default()] },
        ),
        success(
            "setExceptionBreakpoints",
            &SetExceptionBreakpointsResponseBody {
                breakpoints: Some(vec![Breakpoint { verified: true, ..breakpoint() }]),
            },
        ),
        success(
            "threads",
            &ThreadsResponseBody {
                threads: vec![Thread { id: 1, name: "MainThread".into() }, Thread { id: -5, name: "w".into() }],
            },
        ),
        success("stackTrace", &StackTraceResponseBody { stack_frames: vec![frame], total_frames: Some(1) }),
        success("scopes", &ScopesResponseBody { scopes: vec![scope] }),
        success("variables", &VariablesResponseBody { variables: vec![variable] }),
        success("variables", &listed_variables()),
        success(
            "evaluate",
            &EvaluateResponseBody {
                result: "3".into(),
                type_: Some("int".into()),
                presentation_hint: Some(hint()),
                variables_reference: 0,
                named_variables: Some(0),
                indexed_variables: Some(0),
                memory_reference: Some("0x1".into()),
            },
        ),
        success("continue", &ContinueResponseBody { all_threads_continued: Some(true) }),
        success(
            "setVariable",
            &SetVariableResponseBody {
                value: "4".into(),
                type_: Some("int".into()),
                variables_reference: Some(0),
                named_variables: Some(0),
                indexed_variables: Some(0),
                memory_reference: Some("0x2".into()),
            },
        ),
        success(
            "setExpression",
            &SetExpressionResponseBody {
                value: "5".into(),
                type_: Some("int".into()),
                presentation_hint: Some(hint()),
                variables_reference: Some(0),
                named_variables: Some(0),
                indexed_variables: Some(0),
                memory_reference: Some("0x3".into()),
            },
        ),
        success(
            "source",
            &SourceResponseBody { content: "print('hi')\n".into(), mime_type: Some("text/x-python".into()) },
        ),
        success(
            "exceptionInfo",
            &ExceptionInfoResponseBody {
                exception_id: "ValueError".into(),
                description: Some("boom".into()),
                break_mode: ExceptionBreakMode::UserUnhandled,
                details: Some(details),
            },
        ),
        success(
            "gotoTargets",
            &GotoTargetsResponseBody {
                targets: vec![GotoTarget {
                    id: 1,
                    label: "line 3".into(),
                    line: 3,
                    column: Some(1),
                    end_line: Some(3),
                    end_column: Some(2),
                    instruction_pointer_reference: Some("0x3".into()),
                }],
            },
        ),
        success(
            "completions",
            &CompletionsResponseBody {
                targets: vec![CompletionItem {
                    label: "append".into(),
                    text: Some("append(".into()),
                    sort_text: Some("a".into()),
                    detail: Some("list.append".into()),
                    type_: Some(CompletionItemType::Method),
                    start: Some(2),
                    length: Some(3),
                    selection_start: Some(7),
                    selection_length: Some(0),
                }],
            },
        ),
        success("modules", &ModulesResponseBody { modules: vec![module(), Module::default()], total_modules: Some(2) }),
        success("loadedSources", &LoadedSourcesResponseBody { sources: vec![source()] }),
    ]
}

/// Every response body with each optional field `None` (required ones at their default).
fn minimal_responses() -> Vec<Message> {
    vec![
        success("initialize", &Capabilities::default()),
        success("setBreakpoints", &SetBreakpointsResponseBody::default()),
        success("setBreakpoints", &SetBreakpointsResponseBody { breakpoints: vec![Breakpoint::default()] }),
        success("setExceptionBreakpoints", &SetExceptionBreakpointsResponseBody::default()),
        success("threads", &ThreadsResponseBody { threads: vec![Thread::default()] }),
        success(
            "stackTrace",
            &StackTraceResponseBody { stack_frames: vec![StackFrame::default()], total_frames: None },
        ),
        success("scopes", &ScopesResponseBody { scopes: vec![Scope::default()] }),
        success("variables", &VariablesResponseBody { variables: vec![Variable::default()] }),
        success(
            "variables",
            &VariablesResponseBody {
                variables: vec![Variable {
                    presentation_hint: Some(VariablePresentationHint::default()),
                    ..Default::default()
                }],
            },
        ),
        success("evaluate", &EvaluateResponseBody::default()),
        success("continue", &ContinueResponseBody::default()),
        success("setVariable", &SetVariableResponseBody::default()),
        success("setExpression", &SetExpressionResponseBody::default()),
        success("source", &SourceResponseBody::default()),
        success(
            "exceptionInfo",
            &ExceptionInfoResponseBody {
                exception_id: String::new(),
                description: None,
                break_mode: ExceptionBreakMode::Always,
                details: Some(ExceptionDetails::default()),
            },
        ),
        success("gotoTargets", &GotoTargetsResponseBody { targets: vec![GotoTarget::default()] }),
        success("completions", &CompletionsResponseBody { targets: vec![CompletionItem::default()] }),
        success("modules", &ModulesResponseBody { modules: vec![Module::default()], total_modules: None }),
        success("loadedSources", &LoadedSourcesResponseBody { sources: vec![Source::default()] }),
    ]
}

/// Responses with no body, and error responses.
fn bodiless_and_error_responses() -> Vec<Message> {
    let mut messages: Vec<Message> = [
        "attach",
        "launch",
        "configurationDone",
        "next",
        "stepIn",
        "stepOut",
        "pause",
        "disconnect",
        "terminate",
        "goto",
    ]
    .into_iter()
    .map(|command| Response::ack(&request(command)).into())
    .collect();
    messages.push(Response::error(&request("evaluate"), "NameError: name 'x' is not defined", None).into());
    let mut details = ErrorDetails::new(2001, "Could not connect to {host}").show_user();
    details.variables = Some([("host".to_owned(), "example.net".to_owned())].into());
    details.send_telemetry = Some(false);
    details.url = Some("https://example.net/help".into());
    details.url_label = Some("Help".into());
    messages.push(Response::error(&request("attach"), "could not connect", Some(details)).into());
    messages.push(Response::cancelled(&request("stackTrace")).into());
    messages.push(Response::error(&request("readMemory"), "readMemory is not supported", None).into());
    let malformed = dap::Malformed { seq: Some(3), kind: None, command: None, reason: "it is not valid JSON".into() };
    messages.push(malformed.error_response().unwrap().into());
    messages
}

/// Every event body, filled in, then with optional fields `None`.
fn events() -> Vec<Message> {
    let full: Vec<Event> = vec![
        Event::initialized(),
        Event::new(&StoppedEventBody {
            reason: "breakpoint".into(),
            description: Some("Paused on breakpoint".into()),
            thread_id: Some(1),
            preserve_focus_hint: Some(false),
            text: Some("x".into()),
            all_threads_stopped: Some(true),
            hit_breakpoint_ids: Some(vec![3, 4]),
        }),
        Event::new(&StoppedEventBody { reason: "some future reason".into(), ..Default::default() }),
        Event::new(&ContinuedEventBody { thread_id: 1, all_threads_continued: Some(true) }),
        Event::new(&ThreadEventBody { reason: "started".into(), thread_id: 2 }),
        Event::new(&OutputEventBody {
            category: Some("stdout".into()),
            output: "hello\n".into(),
            group: Some(OutputEventGroup::StartCollapsed),
            variables_reference: Some(0),
            source: Some(source()),
            line: Some(3),
            column: Some(1),
            data: Some(json!({"k": [1, 2]})),
        }),
        Event::new(&BreakpointEventBody { reason: "changed".into(), breakpoint: breakpoint() }),
        Event::new(&ModuleEventBody { reason: ModuleEventReason::New, module: module() }),
        Event::new(&LoadedSourceEventBody { reason: LoadedSourceEventReason::Changed, source: source() }),
        Event::new(&ProcessEventBody {
            name: "/usr/bin/python3 app.py".into(),
            system_process_id: Some(4242),
            is_local_process: Some(false),
            start_method: Some(ProcessEventStartMethod::Attach),
            pointer_size: Some(64),
        }),
        Event::new(&ExitedEventBody { exit_code: -1 }),
        Event::new(&TerminatedEventBody { restart: Some(json!({"reconnect": true})) }),
    ];
    let minimal: Vec<Event> = vec![
        Event::new(&StoppedEventBody::default()),
        Event::new(&ContinuedEventBody::default()),
        Event::new(&ThreadEventBody::default()),
        Event::new(&OutputEventBody::default()),
        Event::new(&BreakpointEventBody::default()),
        Event::new(&ModuleEventBody { reason: ModuleEventReason::Removed, module: Module::default() }),
        Event::new(&LoadedSourceEventBody { reason: LoadedSourceEventReason::Removed, source: Source::default() }),
        Event::new(&ProcessEventBody::default()),
        Event::new(&ExitedEventBody::default()),
        Event::new(&TerminatedEventBody::default()),
    ];
    full.into_iter().chain(minimal).map(Message::from).collect()
}

#[tokio::test]
async fn every_response_body_validates() {
    let messages = full_responses();
    let count = messages.len();
    let definitions = check_all(&round_trip(messages).await);
    // Each maps to its specific definition, not the generic `Response`.
    assert!(!definitions.iter().any(|d| d == "Response"), "{definitions:?}");
    assert_eq!(definitions.len(), count);
}

#[tokio::test]
async fn every_response_body_validates_with_optional_fields_left_out() {
    check_all(&round_trip(minimal_responses()).await);
}

#[tokio::test]
async fn bodiless_and_error_responses_validate() {
    let values = round_trip(bodiless_and_error_responses()).await;
    let definitions = check_all(&values);
    assert_eq!(definitions.iter().filter(|d| *d == "ErrorResponse").count(), 5, "{definitions:?}");
    // `readMemory` has a definition; an unknown command falls back to the generic one.
    let unknown = Response::error(&request("fooBar"), "fooBar is not supported", None);
    assert_eq!(definition_for(&serde_json::to_value(Message::from(unknown)).unwrap()), "ErrorResponse");
    let unknown_ok = Response::ack(&request("fooBar"));
    assert_eq!(definition_for(&serde_json::to_value(Message::from(unknown_ok)).unwrap()), "Response");
}

#[tokio::test]
async fn every_event_body_validates() {
    let values = round_trip(events()).await;
    let definitions = check_all(&values);
    for expected in [
        "InitializedEvent",
        "StoppedEvent",
        "ContinuedEvent",
        "ThreadEvent",
        "OutputEvent",
        "BreakpointEvent",
        "ModuleEvent",
        "LoadedSourceEvent",
        "ProcessEvent",
        "ExitedEvent",
        "TerminatedEvent",
    ] {
        assert!(definitions.iter().any(|d| d == expected), "{expected} not covered: {definitions:?}");
    }
    // The writer numbered them 1, 2, 3, … (the schema requires seq >= 1).
    let seqs: Vec<i64> = values.iter().map(|v| v["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=values.len() as i64).collect::<Vec<_>>());
}

#[test]
fn the_validator_resolves_refs_and_rejects_what_dap_types_sends() {
    // What dap-types 0.0.1 writes for a stopped event: `null` for every `None`.
    let stopped = json!({"seq": 1, "type": "event", "event": "stopped",
        "body": {"reason": "pause", "description": null, "threadId": 1, "preserveFocusHint": null,
                 "text": null, "allThreadsStopped": null, "hitBreakpointIds": null}});
    let error = validate_dap_message(&stopped).unwrap_err();
    assert!(error.contains("/body/description"), "{error}");

    // A problem two `$ref`s deep: StackTraceResponse → StackFrame → Source.
    let response = json!({"seq": 2, "type": "response", "request_seq": 1, "success": true, "command": "stackTrace",
        "body": {"stackFrames": [{"id": 1, "name": "f", "line": 1, "column": 1, "source": {"sourceReference": "x"}}]}});
    let error = validate_dap_message(&response).unwrap_err();
    assert!(error.contains("/body/stackFrames/0/source/sourceReference"), "{error}");

    // Missing required fields, through the Response → ProtocolMessage `allOf` chain.
    assert!(validate_dap_message(
        &json!({"type": "response", "request_seq": 1, "success": true, "command": "threads", "body": {"threads": []}})
    )
    .is_err());
    assert!(validate_dap_message(&json!({"seq": 1, "type": "event", "event": "stopped", "body": {}})).is_err());
    // seq must be >= 1.
    assert!(validate_dap_message(&json!({"seq": 0, "type": "event", "event": "initialized"})).is_err());
    // A closed enum.
    assert!(validate_dap_message(
        &json!({"seq": 1, "type": "event", "event": "output", "body": {"output": "", "group": "middle"}})
    )
    .is_err());
    // An error response must have a body.
    assert!(validate_dap_message(
        &json!({"seq": 1, "type": "response", "request_seq": 1, "success": false, "command": "threads", "message": "x"})
    )
    .is_err());
    // An open enum takes any string.
    validate_dap_message(&json!({"seq": 1, "type": "event", "event": "stopped", "body": {"reason": "anything"}}))
        .unwrap();

    // Strict mode catches a misspelt optional field; the plain schema allows it.
    let misspelt = json!({"seq": 1, "type": "response", "request_seq": 1, "success": true, "command": "continue",
        "body": {"allThreadContinued": true}});
    validate_dap_message(&misspelt).unwrap();
    let error = validate_dap_message_strict(&misspelt).unwrap_err();
    assert!(error.contains("allThreadContinued"), "{error}");
    // … also behind `$ref`s, and in the capabilities.
    for misspelt in [
        json!({"seq": 1, "type": "response", "request_seq": 1, "success": true, "command": "stackTrace",
               "body": {"stackFrames": [{"id": 1, "name": "f", "line": 1, "column": 1, "source": {"sourceRef": 1}}]}}),
        json!({"seq": 1, "type": "response", "request_seq": 1, "success": true, "command": "initialize",
               "body": {"supportsAnsiStyling": true}}),
        json!({"seq": 1, "type": "event", "event": "stopped", "body": {"reason": "step", "threadID": 1}}),
        json!({"seq": 1, "type": "response", "request_seq": 1, "success": false, "command": "threads",
               "message": "x", "body": {"error": {"id": 1, "format": "x", "show_user": true}}}),
    ] {
        validate_dap_message(&misspelt).unwrap();
        assert!(validate_dap_message_strict(&misspelt).is_err(), "{misspelt}");
    }
    // The envelope's own fields are never reported as extra.
    validate_dap_message_strict(&json!({"seq": 1, "type": "event", "event": "initialized"})).unwrap();
}

#[test]
fn editor_requests_used_in_tests_validate() {
    for request in [
        json!({"seq": 1, "type": "request", "command": "initialize",
               "arguments": {"clientID": "vscode", "adapterID": "ptvsd-legacy", "linesStartAt1": true, "pathFormat": "path"}}),
        json!({"seq": 2, "type": "request", "command": "attach", "arguments": {"url": "ws://h/p", "__sessionId": "x"}}),
        json!({"seq": 3, "type": "request", "command": "configurationDone", "arguments": {}}),
        json!({"seq": 4, "type": "request", "command": "threads"}),
        json!({"seq": 5, "type": "request", "command": "setBreakpoints",
               "arguments": {"source": {"path": "/a.py"}, "breakpoints": [{"line": 3}], "sourceModified": false}}),
        json!({"seq": 6, "type": "request", "command": "disconnect", "arguments": {"restart": false}}),
    ] {
        validate_dap_message(&request).unwrap();
        assert!(definition_for(&request).ends_with("Request"));
        assert_ne!(definition_for(&request), "Request");
    }
}

#[test]
fn response_helpers_echo_the_request() {
    let request = Request { seq: 17, command: "scopes".into(), arguments: Some(json!({"frameId": 1})) };
    let response = Response::success(&request, &ScopesResponseBody::default());
    assert_eq!((response.request_seq, response.command.as_str(), response.success), (17, "scopes", true));
    assert_eq!(response.body, Some(json!({"scopes": []})));
}

/// The codec's `Encoder` must not add anything but the header (dap-rs appends `\r\n`).
#[tokio::test]
async fn frames_are_exactly_header_plus_body() {
    use tokio::io::AsyncReadExt;
    let (ours, mut theirs) = tokio::io::duplex(1 << 16);
    let mut writer = DapWriter::new(ours);
    writer.send(Event::initialized()).await.unwrap();
    drop(writer);
    let mut bytes = Vec::new();
    theirs.read_to_end(&mut bytes).await.unwrap();
    let body = br#"{"type":"event","seq":1,"event":"initialized"}"#;
    assert_eq!(bytes, [format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(), body].concat());
}

#[test]
fn int32_formats_are_not_enforced() {
    // jsonschema ignores the schema's custom `format`s (`int32`, `uint64`): ids beyond
    // 2^31 pass. Range checks are the session's business, not the schema's.
    let event = json!({"seq": 1, "type": "event", "event": "thread", "body": {"reason": "started", "threadId": 140_000_000_000_i64}});
    validate_dap_message(&event).unwrap();
}
