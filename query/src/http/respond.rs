//! Content negotiation: JSON by default, CSV or an Arrow IPC stream when
//! `Accept` asks for them.

use axum::http::{HeaderMap, StatusCode, header};

use super::error::ApiError;
use crate::output::Format;

/// The format `Accept` asks for: the first media range listed that is
/// offered (quality values are not weighed).
pub fn negotiate(headers: &HeaderMap) -> Result<Format, ApiError> {
    let Some(accept) = headers.get(header::ACCEPT) else {
        return Ok(Format::Json);
    };
    let accept = accept.to_str().unwrap_or_default();
    if accept.trim().is_empty() {
        return Ok(Format::Json);
    }
    for range in accept.split(',') {
        let media = range.split(';').next().unwrap_or_default().trim();
        match media.to_ascii_lowercase().as_str() {
            "application/json" | "application/*" | "*/*" => return Ok(Format::Json),
            "text/csv" | "text/*" => return Ok(Format::Csv),
            "application/vnd.apache.arrow.stream" => return Ok(Format::ArrowStream),
            _ => {}
        }
    }
    Err(ApiError::new(
        StatusCode::NOT_ACCEPTABLE,
        "not_acceptable",
        format!(
            "cannot answer `{accept}`; accepted: application/json, text/csv, \
             application/vnd.apache.arrow.stream"
        ),
    ))
}
