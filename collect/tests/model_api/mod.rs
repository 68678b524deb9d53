//! The stand-in model API (`stand_in.py` beside this file) as a child
//! process on a loopback port, and what it was asked. Its usage figures are
//! fixed; [`ANTHROPIC`], [`OPENAI`] and [`GEMINI`] are what aitrail must make
//! of each answer.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// Token counts as an `ai_usage` event carries them (DESIGN §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figures {
    /// Uncached input.
    pub input: i64,
    /// Output, reasoning included.
    pub output: i64,
    pub cache_read: i64,
    pub cache_write: i64,
    /// The reasoning part of the output.
    pub reasoning: i64,
}

/// Each Anthropic answer: `input_tokens` 11 (already uncached),
/// `cache_read_input_tokens` 1000, `cache_creation_input_tokens` 7,
/// `output_tokens` 42.
pub const ANTHROPIC: Figures = Figures {
    input: 11,
    output: 42,
    cache_read: 1000,
    cache_write: 7,
    reasoning: 0,
};

/// Each OpenAI answer: `input_tokens` 1200 of which `cached_tokens` 1000
/// and `cache_write_tokens` 50, `output_tokens` 80 of which
/// `reasoning_tokens` 30.
pub const OPENAI: Figures = Figures {
    input: 150,
    output: 80,
    cache_read: 1000,
    cache_write: 50,
    reasoning: 30,
};

/// Each Gemini answer: `promptTokenCount` 1300 of which
/// `cachedContentTokenCount` 1100, `candidatesTokenCount` 60 and
/// `thoughtsTokenCount` 25 beside them.
pub const GEMINI: Figures = Figures {
    input: 200,
    output: 85,
    cache_read: 1100,
    cache_write: 0,
    reasoning: 25,
};

/// The running stand-in; killed when dropped.
pub struct ModelApi {
    child: Child,
    log: PathBuf,
    port: u16,
}

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct Asked {
    pub path: String,
    /// The model asked for; `None` for a path the stand-in does not serve.
    pub model: Option<String>,
    /// The tool results the request carried, as JSON text.
    pub tool_result: Option<String>,
    /// `tool_call`, `text`, `json` or `not_found`.
    pub answered: String,
}

impl Asked {
    /// Whether the stand-in answered it as a model (with usage).
    pub fn is_model_call(&self) -> bool {
        self.answered != "not_found"
    }
}

impl ModelApi {
    /// Starts the stand-in, logging into `dir`; a shell tool call it makes
    /// runs `echo word`.
    pub fn start(dir: &Path, word: &str) -> ModelApi {
        let script = crate::common::manifest_dir().join("tests/model_api/stand_in.py");
        let log = dir.join("model-api.jsonl");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(&log)
            .arg(word)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the stand-in model API");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout is piped");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the stand-in prints its port");
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the stand-in printed {line:?}, not its port"));
        ModelApi { child, log, port }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request received so far, in order.
    pub fn asked(&self) -> Vec<Asked> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .map(|line| {
                let line: Value = serde_json::from_str(line).unwrap();
                Asked {
                    path: line["path"].as_str().unwrap_or_default().to_string(),
                    model: line["model"].as_str().map(str::to_string),
                    tool_result: line["tool_result"].as_str().map(str::to_string),
                    answered: line["answered"].as_str().unwrap_or_default().to_string(),
                }
            })
            .collect()
    }
}

impl Drop for ModelApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
