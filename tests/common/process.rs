//! The agentcast binary as a child process: free loopback ports to point it at, bounded
//! waits for it to exit, and its output as text.

use std::{
    net::TcpListener,
    process::{Child, Command, Output},
    sync::mpsc,
    time::Duration,
};

/// A loopback port free a moment ago (the listener that found it is closed): for a child
/// to listen on, or, nothing listening there, to dial and be refused.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Waits for `child` to exit, for at most `limit`: a thread waits on the process (no
/// polling). Past the limit the child is killed and `None` answered.
pub fn exit_within(child: Child, limit: Duration) -> Option<Output> {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => Some(output.expect("the child's output")),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            None
        }
    }
}

/// [`exit_within`], failing the test (naming `what`) if the child does not exit in time.
pub fn output_within(child: Child, limit: Duration, what: &str) -> Output {
    exit_within(child, limit).unwrap_or_else(|| panic!("{what} did not exit within {limit:?}"))
}

/// Output bytes as text (lossy).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
