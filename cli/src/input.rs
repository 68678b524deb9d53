//! Reading JSONL from a file or stdin, decompressing `.gz` and `.zst` by
//! extension.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::exit::UsageError;

/// Bytes read from the input at a time: few enough that the lines the
/// kernel just copied in are still in the core's cache when the validator
/// reads them. With 1 MiB, the kernel's copy took three times the CPU
/// (benches/HISTORY.md).
const READ_BUFFER_BYTES: usize = 128 << 10;

/// A JSONL source and the name rejects give it.
pub struct JsonlInput {
    /// The path as given, or `-` for stdin.
    pub name: String,
    /// The decompressed bytes, buffered.
    pub reader: Box<dyn BufRead + Send>,
    /// A line that began in one buffer-full and ended in another.
    straddling: Vec<u8>,
    /// Bytes of the reader's buffer that the last line returned still
    /// borrows, consumed on the next call.
    lent: usize,
}

impl JsonlInput {
    fn new(name: String, reader: Box<dyn BufRead + Send>) -> Self {
        JsonlInput {
            name,
            reader,
            straddling: Vec::new(),
            lent: 0,
        }
    }

    /// The next line without its line break (`\n` or `\r\n`); `None` at
    /// the end. A line is lent from the reader's buffer where it lies
    /// whole, and copied only when it straddles two buffer-fulls.
    pub fn next_line(&mut self) -> io::Result<Option<&[u8]>> {
        self.reader.consume(std::mem::take(&mut self.lent));
        self.straddling.clear();
        loop {
            let available = self.reader.fill_buf()?;
            if available.is_empty() {
                if self.straddling.is_empty() {
                    return Ok(None);
                }
                return Ok(Some(without_line_break(&self.straddling)));
            }
            let Some(end) = memchr::memchr(b'\n', available) else {
                self.straddling.extend_from_slice(available);
                let read = available.len();
                self.reader.consume(read);
                continue;
            };
            if self.straddling.is_empty() {
                self.lent = end + 1;
                // The buffer again, unchanged (nothing was consumed): the
                // borrow above cannot outlive the `lent` update.
                let line = &self.reader.fill_buf()?[..end];
                return Ok(Some(without_line_break(line)));
            }
            self.straddling.extend_from_slice(&available[..end]);
            self.reader.consume(end + 1);
            return Ok(Some(without_line_break(&self.straddling)));
        }
    }
}

fn without_line_break(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Opens `path` (stdin when `None` or `-`), decompressing by extension.
pub fn open(path: Option<&PathBuf>) -> anyhow::Result<JsonlInput> {
    let Some(path) = path.filter(|p| p.as_os_str() != "-") else {
        return Ok(JsonlInput::new(
            "-".to_string(),
            Box::new(BufReader::with_capacity(READ_BUFFER_BYTES, io::stdin())),
        ));
    };
    let file = File::open(path)
        .map_err(|err| UsageError(format!("cannot open {}: {err}", path.display())))?;
    let raw: Box<dyn Read + Send> = match extension(path) {
        Some("gz") => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file))),
        Some("zst") => Box::new(zstd::Decoder::new(file)?),
        _ => Box::new(file),
    };
    Ok(JsonlInput::new(
        path.display().to_string(),
        Box::new(BufReader::with_capacity(READ_BUFFER_BYTES, raw)),
    ))
}

fn extension(path: &Path) -> Option<&str> {
    path.extension().and_then(|e| e.to_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[u8], buffer: usize) -> Vec<Vec<u8>> {
        let reader = BufReader::with_capacity(buffer, io::Cursor::new(text.to_vec()));
        let mut input = JsonlInput::new("test".to_string(), Box::new(reader));
        let mut found = Vec::new();
        while let Some(line) = input.next_line().unwrap() {
            found.push(line.to_vec());
        }
        found
    }

    #[test]
    fn lines_come_whole_whatever_the_buffer_size() {
        let text = b"{\"a\":1}\r\n\n{\"b\":\"two\"}\nlast line without a break";
        let expected: Vec<Vec<u8>> = vec![
            b"{\"a\":1}".to_vec(),
            Vec::new(),
            b"{\"b\":\"two\"}".to_vec(),
            b"last line without a break".to_vec(),
        ];
        for buffer in 1..=text.len() + 1 {
            assert_eq!(lines(text, buffer), expected, "buffer of {buffer} bytes");
        }
    }

    #[test]
    fn an_empty_input_has_no_lines_and_a_lone_break_one_empty_line() {
        assert!(lines(b"", 8).is_empty());
        assert_eq!(lines(b"\n", 8), vec![Vec::<u8>::new()]);
        assert_eq!(lines(b"\r\n", 1), vec![Vec::<u8>::new()]);
    }
}
