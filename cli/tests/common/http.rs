//! A plain HTTP/1.1 client for the tests of the services: one request per
//! connection, enough to see status, headers and body as a client does.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use serde_json::Value;

/// A response: status, headers, body.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The header `name`, or "" when absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }

    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.text()))
    }

    /// The body as text, for assertion messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `Bearer <token>`, the value of an `Authorization` header.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Sends one request to `address` with `headers` and, when given, a JSON
/// `body`.
pub fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect(address)?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = body.unwrap_or_default();
    head.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let reply = Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    };
    assert_ne!(reply.header("transfer-encoding"), "chunked");
    Ok(reply)
}

/// `GET path` with `token` as bearer when given.
pub fn get(address: SocketAddr, path: &str, token: Option<&str>) -> Reply {
    let auth = token.map(bearer);
    request(address, "GET", path, &authorization(&auth), None).expect("the service answers")
}

/// `POST /v1/sql` with `token` as bearer when given.
pub fn post_sql(address: SocketAddr, token: Option<&str>, sql: &str) -> Reply {
    let body = serde_json::json!({ "sql": sql }).to_string();
    let auth = token.map(bearer);
    request(
        address,
        "POST",
        "/v1/sql",
        &authorization(&auth),
        Some(&body),
    )
    .expect("the service answers")
}

/// The `Authorization` header of `auth`, none without it.
pub fn authorization(auth: &Option<String>) -> Vec<(&'static str, &str)> {
    auth.iter()
        .map(|value| ("Authorization", value.as_str()))
        .collect()
}
