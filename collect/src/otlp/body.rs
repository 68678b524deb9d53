//! An OTLP/HTTP request body: its media type (protobuf or JSON), its
//! encoding (gzip or identity), a size limit counted after decompression
//! (so a gzip bomb is refused, not inflated), and decoding into the OTLP
//! message.

use std::io::Read;

use flate2::read::GzDecoder;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// How the body is written; the answer is written the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json`: OTLP/JSON.
    Json,
}

/// What is wrong with a body, each with the status OTLP/HTTP gives it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BodyError {
    /// `415`: neither protobuf nor JSON.
    #[error("Content-Type `{0}` is not supported: send application/x-protobuf or application/json")]
    MediaType(String),
    /// `415`: an encoding other than gzip or identity.
    #[error("Content-Encoding `{0}` is not supported: send gzip or identity")]
    Encoding(String),
    /// `413`: larger than the limit, before or after decompression.
    #[error("the body is larger than {limit} bytes (counted after decompression)")]
    TooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// `400`: not gzip, not protobuf or not OTLP/JSON.
    #[error("{0}")]
    Malformed(String),
}

impl Format {
    /// The format of a `Content-Type` header value.
    pub fn of(content_type: Option<&str>) -> Result<Format, BodyError> {
        let value = content_type.unwrap_or("");
        let media = value.split(';').next().unwrap_or("").trim();
        match media.to_ascii_lowercase().as_str() {
            "application/x-protobuf" | "application/protobuf" => Ok(Format::Protobuf),
            "application/json" => Ok(Format::Json),
            _ => Err(BodyError::MediaType(value.to_string())),
        }
    }

    /// The `Content-Type` of an answer in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => "application/x-protobuf",
            Format::Json => "application/json",
        }
    }

    /// `body` (already decompressed) as the message `T`.
    pub fn decode<T>(self, body: &[u8]) -> Result<T, BodyError>
    where
        T: prost::Message + Default + DeserializeOwned,
    {
        match self {
            Format::Protobuf => T::decode(body)
                .map_err(|err| BodyError::Malformed(format!("malformed protobuf: {err}"))),
            Format::Json => serde_json::from_slice(body)
                .map_err(|err| BodyError::Malformed(format!("malformed OTLP/JSON: {err}"))),
        }
    }

    /// `message` written in this format.
    pub fn encode<T: prost::Message + Serialize>(self, message: &T) -> Vec<u8> {
        match self {
            Format::Protobuf => message.encode_to_vec(),
            Format::Json => serde_json::to_vec(message).expect("OTLP messages serialize"),
        }
    }
}

/// The whole of a request `body`, refused once it passes `limit` bytes;
/// every endpoint of the collector reads its body this way.
pub async fn read_limited(body: axum::body::Body, limit: usize) -> Result<bytes::Bytes, BodyError> {
    use http_body_util::{BodyExt, LengthLimitError, Limited};
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<LengthLimitError>() => Err(BodyError::TooLarge { limit }),
        Err(err) => Err(BodyError::Malformed(format!("cannot read the body: {err}"))),
    }
}

/// `body` decompressed as its `Content-Encoding` says, refused once it
/// passes `limit` bytes.
pub fn decompress(
    body: bytes::Bytes,
    encoding: Option<&str>,
    limit: usize,
) -> Result<bytes::Bytes, BodyError> {
    let too_large = BodyError::TooLarge { limit };
    match encoding.map(|e| e.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("identity") => {
            if body.len() > limit {
                return Err(too_large);
            }
            Ok(body)
        }
        Some("gzip") => {
            let mut inflated = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
            GzDecoder::new(body.as_ref())
                .take(limit as u64 + 1)
                .read_to_end(&mut inflated)
                .map_err(|err| BodyError::Malformed(format!("malformed gzip body: {err}")))?;
            if inflated.len() > limit {
                return Err(too_large);
            }
            Ok(inflated.into())
        }
        Some(other) => Err(BodyError::Encoding(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(data: &[u8]) -> bytes::Bytes {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap().into()
    }

    #[test]
    fn media_types_are_read_with_their_parameters() {
        assert_eq!(
            Format::of(Some("application/x-protobuf")),
            Ok(Format::Protobuf)
        );
        assert_eq!(
            Format::of(Some("application/json; charset=utf-8")),
            Ok(Format::Json)
        );
        assert!(matches!(
            Format::of(Some("text/plain")),
            Err(BodyError::MediaType(_))
        ));
        assert!(matches!(Format::of(None), Err(BodyError::MediaType(_))));
    }

    #[test]
    fn a_gzip_bomb_is_refused_after_the_limit_not_inflated() {
        let bomb = gzip(&vec![0u8; 64 * 1024 * 1024]);
        assert!(bomb.len() < 128 * 1024, "{}", bomb.len());
        assert_eq!(
            decompress(bomb, Some("gzip"), 1024 * 1024),
            Err(BodyError::TooLarge { limit: 1024 * 1024 })
        );
        let small = gzip(b"hello");
        assert_eq!(
            decompress(small, Some("GZIP"), 5).unwrap().as_ref(),
            b"hello"
        );
    }

    #[test]
    fn other_bodies_are_refused_with_the_reason() {
        assert_eq!(
            decompress(bytes::Bytes::from_static(b"123456"), None, 5),
            Err(BodyError::TooLarge { limit: 5 })
        );
        assert!(matches!(
            decompress(bytes::Bytes::from_static(b"not gzip"), Some("gzip"), 100),
            Err(BodyError::Malformed(_))
        ));
        assert!(matches!(
            decompress(bytes::Bytes::from_static(b"x"), Some("br"), 100),
            Err(BodyError::Encoding(_))
        ));
    }
}
