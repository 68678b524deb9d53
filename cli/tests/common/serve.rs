//! `aitrail serve` run as a user runs it: a configuration written next to
//! the store, a free port, and a wait until `/healthz` answers.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::http::request;

/// A running `aitrail serve`, killed when dropped.
pub struct Serve {
    /// The process.
    pub child: Child,
    /// Where it listens.
    pub address: SocketAddr,
}

impl Serve {
    /// Starts `aitrail serve` over `store` with `server` lines added to
    /// `[server]` and one `[[server.tokens]]` per `(name, role, token)`;
    /// the configuration is `dir/aitrail.toml`.
    pub fn start(dir: &Path, store: &Path, server: &str, tokens: &[(&str, &str, &str)]) -> Serve {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut config = format!(
            "[store]\nroot = \"{}\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n{server}\n",
            store.display()
        );
        for (name, role, token) in tokens {
            let sha256 = hex::encode(Sha256::digest(token.as_bytes()));
            config.push_str(&format!(
                "\n[[server.tokens]]\nname = \"{name}\"\nrole = \"{role}\"\nsha256 = \"{sha256}\"\n"
            ));
        }
        let path = dir.join("aitrail.toml");
        std::fs::write(&path, config).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_aitrail"))
            .args(["serve", "--config", path.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aitrail serve starts");
        let mut serve = Serve {
            child,
            address: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if request(serve.address, "GET", "/healthz", &[], None)
                .is_ok_and(|reply| reply.status == 200)
            {
                return serve;
            }
            if let Some(status) = serve.child.try_wait().unwrap() {
                panic!("aitrail serve exited: {status}");
            }
            assert!(Instant::now() < deadline, "aitrail serve did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
