//! `aitrail dev` run as a user runs it, for the tests that need the whole
//! pipeline: started on a free port, its printed lines read, its log kept,
//! stopped by a signal.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::http::post_sql;

/// How long `aitrail dev` may take to start, stop, or store what a test waits for.
const DEADLINE: Duration = Duration::from_secs(180);

/// A running `aitrail dev` and what it printed; killed when dropped.
pub struct Dev {
    child: Child,
    /// Reads the log until the process closes its stderr, then returns it.
    log: Option<JoinHandle<Vec<u8>>>,
    /// `host:port` of the embedded broker.
    pub kafka: String,
    /// Address of the query service and dashboard.
    pub dashboard: SocketAddr,
    /// The compliance role's token.
    pub compliance: String,
    /// The leadership role's token.
    pub leadership: String,
    /// Base address of the collector's OTLP/HTTP endpoints.
    pub otlp: String,
    /// The collector's bearer token.
    pub collector: String,
}

impl Dev {
    /// Starts `aitrail dev` on `data_dir`, on a free port, with the further
    /// flags `flags`, and waits for its six lines.
    pub fn start(data_dir: &Path, flags: &[&str]) -> Dev {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aitrail"))
            .args([
                "dev",
                "--listen",
                "127.0.0.1:0",
                "--otlp-listen",
                "127.0.0.1:0",
                "--otlp-grpc-listen",
                "127.0.0.1:0",
                "--data-dir",
                data_dir.to_str().unwrap(),
            ])
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("aitrail dev starts");
        let mut stderr = child.stderr.take().unwrap();
        let log = std::thread::spawn(move || {
            let mut log = Vec::new();
            let mut chunk = [0u8; 8192];
            while let Ok(read @ 1..) = stderr.read(&mut chunk) {
                let _ = std::io::stderr().write_all(&chunk[..read]);
                log.extend_from_slice(&chunk[..read]);
            }
            log
        });
        let stdout = child.stdout.take().unwrap();
        let (lines_tx, lines_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut printed = std::collections::BTreeMap::new();
        let deadline = Instant::now() + DEADLINE;
        while printed.len() < 6 {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = lines_rx.recv_timeout(left) else {
                let _ = child.kill();
                let _ = child.wait();
                panic!("aitrail dev did not print its six lines in time");
            };
            let (key, value) = line.split_once(": ").expect("`key: value` lines");
            printed.insert(key.to_string(), value.to_string());
        }
        let dashboard = printed["dashboard"]
            .strip_prefix("http://")
            .and_then(|rest| rest.strip_suffix('/'))
            .expect("the dashboard is an http URL")
            .parse()
            .expect("the dashboard URL names an address");
        Dev {
            child,
            log: Some(log),
            kafka: printed["kafka"].clone(),
            dashboard,
            compliance: printed["compliance token"].clone(),
            leadership: printed["leadership token"].clone(),
            otlp: printed["otlp"].clone(),
            collector: printed["collector token"].clone(),
        }
    }

    /// Rows of `query` as the compliance role, polled until `done` holds.
    pub fn poll_sql(&self, query: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let reply = post_sql(self.dashboard, Some(&self.compliance), query);
            assert_eq!(reply.status, 200, "{query}: {}", reply.text());
            let rows = reply.json().as_array().unwrap().clone();
            if done(&rows) {
                return rows;
            }
            assert!(Instant::now() < deadline, "{query}: still {rows:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends `signal`, waits for the exit, and asserts the stop was clean:
    /// exit code 0, and no panic, no error line and no colour code in the
    /// log, which is piped here as a log collector would read it.
    pub fn stop(mut self, signal: &str) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args([signal, &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let log = self.log.take().unwrap().join().unwrap();
                let log = String::from_utf8_lossy(&log);
                assert_eq!(status.code(), Some(0), "exit on {signal}; log:\n{log}");
                for line in log.lines() {
                    assert!(
                        !line.contains("panicked") && !line.contains(" ERROR "),
                        "a clean stop on {signal} logs no panic or error: {line}"
                    );
                }
                assert!(!log.contains('\x1b'), "no colour codes in a piped log");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "aitrail dev did not stop on {signal}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
