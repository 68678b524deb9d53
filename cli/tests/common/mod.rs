//! Running the `aitrail` binary as a user does, shared by the CLI tests.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `aitrail` with `args`, `stdin` as its input, and collects its output.
pub fn aitrail(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aitrail"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the aitrail binary starts");
    let mut input = child.stdin.take().expect("stdin is piped");
    let stdin = stdin.to_vec();
    // Written from another thread: aitrail writes output while it reads.
    let writer = std::thread::spawn(move || input.write_all(&stdin));
    let output = child.wait_with_output().expect("aitrail finishes");
    writer
        .join()
        .expect("the stdin writer does not panic")
        .expect("stdin accepts the input");
    output
}
