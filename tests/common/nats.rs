//! A NATS server with JetStream of the test's own: `nats-server -js` on a free loopback port
//! with a temporary store, never the machine's shared one on 4222; killed when dropped.
//!
//! Without the `nats-server` binary (Debian's package `nats-server`) a test says so and is
//! skipped, unless `REQUIRE_NATS_TEST=1` (set by `.ci/run`), where it is a failure.

use std::{
    cell::RefCell,
    net::TcpStream,
    process::{Child, Command, Stdio},
};

use super::{eventually, process::free_port};

pub struct TestNats {
    pub url: String,
    child: Child,
    _store: tempfile::TempDir,
}

impl TestNats {
    /// Starts a server and waits until it accepts connections; `None` when the binary is
    /// missing and not required.
    pub async fn start() -> Option<Self> {
        // A free port can be taken by another test's server before ours binds it: then ours
        // exits, and it is started again on another port.
        for _ in 0..5 {
            let store = tempfile::tempdir().expect("a temporary JetStream store");
            let port = free_port();
            let spawned = Command::new("nats-server")
                .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
                .arg(store.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let child = match spawned {
                Ok(child) => child,
                Err(err) => {
                    let message = format!(
                        "this test needs nats-server on PATH (apt-get install nats-server): {err}"
                    );
                    assert!(
                        std::env::var("REQUIRE_NATS_TEST").as_deref() != Ok("1"),
                        "{message}"
                    );
                    eprintln!("SKIPPED: {message}");
                    return None;
                }
            };
            let child = RefCell::new(child);
            let listening = eventually("nats-server to listen or exit", || async {
                if let Ok(Some(status)) = child.borrow_mut().try_wait() {
                    return Ok(Err(status));
                }
                TcpStream::connect(("127.0.0.1", port)).map(|_| Ok(()))
            })
            .await;
            let mut child = child.into_inner();
            // Listening, and it is ours (still running).
            if listening.is_ok() && matches!(child.try_wait(), Ok(None)) {
                return Some(Self {
                    url: format!("nats://127.0.0.1:{port}"),
                    child,
                    _store: store,
                });
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("nats-server did not start on any of five free ports");
    }

    /// A JetStream context on a new connection.
    pub async fn jetstream(&self) -> async_nats::jetstream::Context {
        let client = async_nats::connect(&self.url)
            .await
            .expect("connected to the test's nats-server");
        async_nats::jetstream::new(client)
    }
}

impl Drop for TestNats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
