//! Reading JSONL from a file or stdin, decompressing `.gz` and `.zst` by
//! extension.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::exit::UsageError;

/// A JSONL source and the name rejects give it.
pub struct JsonlInput {
    /// The path as given, or `-` for stdin.
    pub name: String,
    /// The decompressed bytes, buffered.
    pub reader: Box<dyn BufRead + Send>,
}

/// Opens `path` (stdin when `None` or `-`), decompressing by extension.
pub fn open(path: Option<&PathBuf>) -> anyhow::Result<JsonlInput> {
    let Some(path) = path.filter(|p| p.as_os_str() != "-") else {
        return Ok(JsonlInput {
            name: "-".to_string(),
            reader: Box::new(BufReader::with_capacity(1 << 20, io::stdin())),
        });
    };
    let file = File::open(path)
        .map_err(|err| UsageError(format!("cannot open {}: {err}", path.display())))?;
    let raw: Box<dyn Read + Send> = match extension(path) {
        Some("gz") => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file))),
        Some("zst") => Box::new(zstd::Decoder::new(file)?),
        _ => Box::new(file),
    };
    Ok(JsonlInput {
        name: path.display().to_string(),
        reader: Box::new(BufReader::with_capacity(1 << 20, raw)),
    })
}

fn extension(path: &Path) -> Option<&str> {
    path.extension().and_then(|e| e.to_str())
}

/// Reads the next line into `line` without its line break; `false` at the end.
pub fn next_line(reader: &mut dyn BufRead, line: &mut Vec<u8>) -> io::Result<bool> {
    line.clear();
    if reader.read_until(b'\n', line)? == 0 {
        return Ok(false);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    Ok(true)
}
