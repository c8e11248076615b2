//! Tests of the JSON dialect.
#![allow(clippy::unwrap_used, clippy::panic)]

mod framing;
