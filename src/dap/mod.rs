//! STUB — replaced by the DAP layer (codec, types).
pub mod types;
