//! Tests of the JSON dialect: framing and leniency, golden tests against the live ptvsd
//! transcripts in `tests/fixtures/legacy/`, malformed input, and round-trip properties.
#![allow(clippy::unwrap_used, clippy::panic)]

mod codec;
mod fixtures;
mod framing;
mod golden;
mod props;
mod typed;
