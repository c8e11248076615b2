#!/usr/bin/env python3
"""Regenerates the seed corpora in fuzz/corpus/ from the live ptvsd transcripts in
tests/fixtures/legacy/ and from DAP messages as VS Code, nvim-dap and Helix send them.

    python3 fuzz/make-corpus.py          # rewrites fuzz/corpus/{dap_codec,legacy_binary,legacy_json}
                                         # and the replay seeds (R-*) of fuzz/corpus/handshake

Each seed starts with the control byte its target reads (see the target's doc comment):
  dap_codec      byte 0: bit 7 tiny limits, bits 0-6 chunking; then the editor's bytes
  legacy_binary  byte 0: % 3 picks v2/v4/v6, / 3 the chunking;  then the stream
  legacy_json    byte 0: bit 0 picks v7/v8, bits 1-7 the chunking; then the stream
  handshake      'R', flags, then the server's bytes exactly as recorded (replay mode);
                 the structured seeds (S-*) were found by the fuzzer and are left alone
Only the standard library is used. Deterministic: the same fixtures give the same files.
"""

import json
import os
import re
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "legacy")
CORPUS = os.path.join(ROOT, "fuzz", "corpus")

# Seeds larger than this are skipped (a THRF with all module globals can be 30 KB).
MAX_SEED = 8 << 10
# Examples kept per kind of message (event tag, command, JSON event name).
PER_KIND = 2


def binary_transcript(path):
    """[(from_server, label, bytes)] from a hex transcript (see tests/fixtures/legacy/README.md)."""
    messages = []
    header = re.compile(r"^\[\s*[\d.]+\] (S->C|C->S) (.*?)\s+\((\d+) bytes\)$")
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        m = header.match(line)
        if m:
            messages.append([m.group(1) == "S->C", m.group(2), int(m.group(3)), bytearray()])
            continue
        if not line.startswith("      ") or not messages:
            continue
        parts = line[6:].split("  ")
        if len(parts) < 2 or not re.fullmatch(r"[0-9a-f]{4}", parts[0]):
            continue
        messages[-1][3].extend(bytes.fromhex(parts[1]))
    out = []
    for from_server, label, size, data in messages:
        if len(data) != size:
            sys.exit(f"{path}: {label}: {len(data)} bytes dumped, {size} announced")
        out.append((from_server, label, bytes(data)))
    return out


def json_transcript(path):
    """[(from_server, framed bytes, body as a dict)] from a JSON transcript."""
    out = []
    line_re = re.compile(r"^\[\s*[\d.]+\] (S->C|C->S) Content-Length: (\d+)\\r\\n\\r\\n(.*)$")
    for line in open(path, encoding="utf-8"):
        m = line_re.match(line.rstrip("\n"))
        if not m:
            continue  # notes, and the one multi-line entry of the misc run
        body = m.group(3).encode("ascii")
        if len(body) != int(m.group(2)):
            sys.exit(f"{path}: a body of {len(body)} bytes announced as {m.group(2)}")
        framed = b"Content-Length: %d\r\n\r\n" % len(body) + body
        out.append((m.group(1) == "S->C", framed, json.loads(body)))
    return out


class Corpus:
    def __init__(self, target, keep=None):
        self.dir = os.path.join(CORPUS, target)
        if os.path.isdir(self.dir):
            for name in os.listdir(self.dir):
                if keep is None or not keep(name):
                    os.remove(os.path.join(self.dir, name))
        os.makedirs(self.dir, exist_ok=True)
        self.seen = set()
        self.count = 0
        self.size = 0

    def add(self, name, data):
        if len(data) > MAX_SEED or data in self.seen:
            return
        self.seen.add(data)
        base = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
        name, n = base, 1
        while os.path.exists(os.path.join(self.dir, name)):
            n += 1
            name = f"{base}-{n}"
        with open(os.path.join(self.dir, name), "wb") as f:
            f.write(data)
        self.count += 1
        self.size += len(data)

    def report(self):
        print(f"{os.path.relpath(self.dir, ROOT)}: {self.count} seeds, {self.size} bytes")


def first_of_each(items, kind_of, per_kind=PER_KIND):
    counts = {}
    for item in items:
        kind = kind_of(item)
        if counts.get(kind, 0) < per_kind:
            counts[kind] = counts.get(kind, 0) + 1
            yield item


def capped_stream(pieces, cap=4 << 10):
    out = b""
    for piece in pieces:
        if len(out) + len(piece) > cap:
            break
        out += piece
    return out


# --- legacy_binary and the binary replay seeds of handshake ---------------------------------

HANDSHAKE_LABELS = {"signature", "signature echo", "secret", "auth result", "ATCH + debug options",
                    "attach result ACPT", "launch hello"}


def legacy_binary(replay):
    corpus = Corpus("legacy_binary")
    v2, v4, v6 = 0, 1, 2  # control bytes: version, whole-stream chunking
    for path in sorted(os.listdir(FIXTURES)):
        if not path.startswith("transcript_v6"):
            continue
        stem = path[len("transcript_"):-len(".txt")]
        messages = binary_transcript(os.path.join(FIXTURES, path))
        events = [(label, data) for s, label, data in messages if s and label.startswith("event ")]
        commands = [(label, data) for s, label, data in messages
                    if not s and label.split(" (")[0] not in HANDSHAKE_LABELS]
        for label, data in first_of_each(events, lambda e: e[1][:4]):
            tag = data[:4].decode("latin-1")
            corpus.add(f"{stem}-event-{tag}-{len(data)}", bytes([v6]) + data)
            if tag in ("THRF", "CHLD", "EXCR"):
                # The same bytes read with the v2/v4 object and CHLD layouts.
                corpus.add(f"{stem}-event-{tag}-{len(data)}-as-v2", bytes([v2]) + data)
                corpus.add(f"{stem}-event-{tag}-{len(data)}-as-v4", bytes([v4]) + data)
        for label, data in first_of_each(commands, lambda c: c[1][:4]):
            corpus.add(f"{stem}-command-{data[:4].decode('latin-1')}-{len(data)}", bytes([v6]) + data)
        # Streams: a few of each event in session order, in small random reads (seed 3*3+2).
        stream = capped_stream(data for label, data in first_of_each(events, lambda e: e[1][:4], 3))
        corpus.add(f"{stem}-events-stream", bytes([3 * 3 + v6]) + stream)
        stream = capped_stream(data for label, data in commands)
        corpus.add(f"{stem}-commands-stream", bytes([3 * 5 + v6]) + stream)
        # Replay: everything the server sent, handshake included, up to a few events.
        server = [data for s, label, data in messages if s]
        replay.add(f"R-{stem}", b"R\x01" + capped_stream(server[:3] + [
            data for data in server[3:] if not data.startswith(b"MODL")][:12], 2 << 10))
    corpus.report()


# --- legacy_json and the JSON replay seeds of handshake -------------------------------------

def json_kind(message):
    from_server, framed, body = message
    return (from_server, body.get("type"), body.get("event") or body.get("command"))


def legacy_json(replay):
    corpus = Corpus("legacy_json")
    for path in sorted(os.listdir(FIXTURES)):
        if not path.startswith("json_transcript_"):
            continue
        stem = path[len("json_transcript_"):-len(".txt")]
        version = 7 if stem.startswith("v7") else 8
        control = 0 if version == 7 else 1
        messages = json_transcript(os.path.join(FIXTURES, path))
        for message in first_of_each(messages, json_kind):
            from_server, framed, body = message
            kind = body.get("event") or body.get("command") or body.get("type")
            side = "s2c" if from_server else "c2s"
            corpus.add(f"{stem}-{side}-{body.get('type')}-{kind}", bytes([control]) + framed)
        # The lone surrogates ptvsd writes (\udc80), wherever a transcript has them.
        for from_server, framed, body in messages:
            if b"\\ud" in framed.lower():
                corpus.add(f"{stem}-lone-surrogate-{len(framed)}", bytes([control]) + framed)
        # Streams after the handshake, in small random reads.
        attached = [framed for s, framed, body in messages[5:] if s
                    and body.get("event") != "legacyModuleLoad"]
        corpus.add(f"{stem}-s2c-stream", bytes([control | (2 << 1)]) + capped_stream(attached))
        requests = [framed for s, framed, body in messages[4:] if not s]
        corpus.add(f"{stem}-c2s-stream", bytes([control | (3 << 1)]) + capped_stream(requests))
        # Replay: the server's side of the handshake and the first events.
        server = [framed for s, framed, body in messages if s
                  and body.get("event") != "legacyModuleLoad"]
        replay.add(f"R-json-{stem}", b"R\x01" + capped_stream(server[:10], 2 << 10))
        info = [framed for s, framed, body in messages if s and body.get("command") == "legacyRemoteDebuggerInfo"]
        if info:
            replay.add(f"R-json-{stem}-info", b"R\x00" + messages[0][1] + b"".join(
                framed for s, framed, body in messages[:4] if s and body.get("type") == "response") + info[0])
    corpus.report()


# --- dap_codec -----------------------------------------------------------------------------

def dap_frame(message, crlf=True):
    body = json.dumps(message, separators=(",", ":") if crlf else (", ", ": ")).encode()
    end = b"\r\n\r\n" if crlf else b"\n\n"
    return b"Content-Length: %d" % len(body) + end + body


VSCODE = [
    {"command": "initialize", "arguments": {
        "clientID": "vscode", "clientName": "Visual Studio Code", "adapterID": "ptvsd-legacy",
        "pathFormat": "path", "linesStartAt1": True, "columnsStartAt1": True, "supportsVariableType": True,
        "supportsVariablePaging": True, "supportsRunInTerminalRequest": True, "locale": "en",
        "supportsProgressReporting": True, "supportsInvalidatedEvent": True, "supportsMemoryReferences": True,
        "supportsArgsCanBeInterpretedByShell": True, "supportsMemoryEvent": True,
        "supportsStartDebuggingRequest": True, "supportsANSIStyling": True}, "type": "request", "seq": 1},
    {"command": "attach", "arguments": {
        "type": "ptvsd-legacy", "request": "attach", "name": "Attach (Azure)",
        "url": "wss://app.azurewebsites.net/_ptvsd", "secret": "s3cret",
        "pathMappings": [{"localRoot": "/home/me/app", "remoteRoot": "/home/site/wwwroot"}],
        "justMyCode": True, "__configurationTarget": 6, "__sessionId": "0b7e4a8e-5f0e-4a2b-9c1d-3e2f1a0b9c8d"},
        "type": "request", "seq": 2},
    {"command": "setBreakpoints", "arguments": {
        "source": {"name": "app.py", "path": "/home/me/app/app.py"}, "lines": [12, 30],
        "breakpoints": [{"line": 12}, {"line": 30, "condition": "x > 1", "hitCondition": "3"},
                        {"line": 41, "logMessage": "x={x}"}], "sourceModified": False},
        "type": "request", "seq": 3},
    {"command": "setExceptionBreakpoints", "arguments": {"filters": ["uncaught"], "filterOptions": []},
     "type": "request", "seq": 4},
    {"command": "configurationDone", "type": "request", "seq": 5},
    {"command": "threads", "type": "request", "seq": 6},
    {"command": "stackTrace", "arguments": {"threadId": 1, "startFrame": 0, "levels": 20}, "type": "request", "seq": 7},
    {"command": "scopes", "arguments": {"frameId": 1000}, "type": "request", "seq": 8},
    {"command": "variables", "arguments": {"variablesReference": 1001, "filter": "named", "start": 0, "count": 100},
     "type": "request", "seq": 9},
    {"command": "evaluate", "arguments": {"expression": "len(items)", "frameId": 1000, "context": "hover"},
     "type": "request", "seq": 10},
    {"command": "setVariable", "arguments": {"variablesReference": 1001, "name": "x", "value": "2"},
     "type": "request", "seq": 11},
    {"command": "next", "arguments": {"threadId": 1, "granularity": "line"}, "type": "request", "seq": 12},
    {"command": "continue", "arguments": {"threadId": 1}, "type": "request", "seq": 13},
    {"command": "pause", "arguments": {"threadId": 1}, "type": "request", "seq": 14},
    {"command": "disconnect", "arguments": {"restart": False, "terminateDebuggee": False, "suspendDebuggee": False},
     "type": "request", "seq": 15},
    {"type": "response", "seq": 16, "request_seq": 3, "success": True, "command": "runInTerminal",
     "body": {"processId": 4242}},
]

NVIM_DAP = [
    {"type": "request", "seq": 1, "command": "initialize", "arguments": {
        "clientId": "neovim", "clientName": "neovim", "adapterID": "nvim-dap", "pathFormat": "path",
        "linesStartAt1": True, "columnsStartAt1": True, "supportsRunInTerminalRequest": True,
        "supportsVariableType": True, "supportsProgressReporting": True, "supportsStartDebuggingRequest": True,
        "locale": "en_US.UTF-8"}},
    {"type": "request", "seq": 2, "command": "attach", "arguments": {
        "type": "ptvsd_legacy", "request": "attach", "name": "attach", "host": "127.0.0.1", "port": 5678,
        "secret": "s3cret"}},
    {"type": "request", "seq": 3, "command": "setBreakpoints", "arguments": {
        "source": {"path": "/home/me/app/app.py", "name": "app.py"}, "sourceModified": False,
        "breakpoints": [{"line": 7}], "lines": [7]}},
    {"type": "request", "seq": 4, "command": "configurationDone"},
    {"type": "request", "seq": 5, "command": "stepIn", "arguments": {"threadId": 1, "targetId": None}},
]

HELIX = [
    {"seq": 1, "type": "request", "command": "initialize", "arguments": {
        "clientID": "hx", "clientName": "helix", "adapterID": "ptvsd-legacy", "locale": "en-us",
        "linesStartAt1": True, "columnsStartAt1": True, "pathFormat": "path", "supportsVariableType": True,
        "supportsVariablePaging": False, "supportsRunInTerminalRequest": True, "supportsMemoryReferences": False,
        "supportsProgressReporting": False, "supportsInvalidatedEvent": False}},
    {"seq": 2, "type": "request", "command": "attach", "arguments": {"url": "tcp://127.0.0.1:5678", "secret": ""}},
    {"seq": 3, "type": "request", "command": "configurationDone", "arguments": {}},
    {"seq": 4, "type": "request", "command": "threads", "arguments": {}},
    {"seq": 5, "type": "request", "command": "loadedSources", "arguments": {}},
    {"seq": 6, "type": "request", "command": "terminate", "arguments": None},
]


def dap_codec():
    corpus = Corpus("dap_codec")
    for client, messages in (("vscode", VSCODE), ("nvim-dap", NVIM_DAP), ("helix", HELIX)):
        for m in messages:
            corpus.add(f"{client}-{m['type']}-{m.get('command')}", b"\x00" + dap_frame(m))
        # A whole session in random small reads, and byte by byte.
        stream = b"".join(dap_frame(m) for m in messages)
        corpus.add(f"{client}-session-chunked", b"\x02" + stream)
        corpus.add(f"{client}-session-bytes", b"\x01" + stream)
    init = VSCODE[0]
    corpus.add("initialize-lf-only", b"\x00" + dap_frame(init, crlf=False))
    corpus.add("initialize-content-type", b"\x00" + b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n"
               + dap_frame(init))
    corpus.add("initialize-tiny-limits", b"\x80" + dap_frame(init))
    corpus.add("garbage-then-frame", b"\x00hello\r\n" + dap_frame(HELIX[3]))
    corpus.add("not-json", b"\x00Content-Length: 38\r\n\r\n" + b'{"seq":4,"type":"request","command":"')
    corpus.add("huge-length", b"\x00Content-Length: 2147483648\r\n\r\n" + dap_frame(HELIX[3]))
    corpus.add("bad-arguments", b"\x00" + dap_frame(
        {"seq": 3, "type": "request", "command": "stackTrace", "arguments": {"threadId": "x"}}))
    corpus.add("no-command", b"\x00" + dap_frame({"seq": 2, "type": "request"}))
    corpus.add("event-from-editor", b"\x00" + dap_frame({"seq": 2, "type": "event", "event": "x", "body": None}))
    corpus.report()


def main():
    # Replay seeds are regenerated; the structured seeds (S-*) are kept.
    replay = Corpus("handshake", keep=lambda name: not name.startswith("R-"))
    legacy_binary(replay)
    legacy_json(replay)
    dap_codec()
    replay.report()


if __name__ == "__main__":
    main()
