//! OTLP as exporters send it: request bodies, attributes read by meaning,
//! the records of an export with their derived event ids, and the status
//! of a refused request.

pub mod attributes;
pub mod body;
pub mod records;
pub mod status;
