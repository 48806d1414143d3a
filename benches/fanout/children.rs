//! The processes a run drives: the server under test and the subscriber fleets.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpStream},
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
    time::Duration,
};

use anyhow::{Context as _, bail};
use serde_json::Value;

use crate::{Args, procfs};

/// A child process of this binary, driven by lines on stdin/stdout.
pub struct Proc {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Proc {
    /// Spawns this binary with `args`, behind `prefix` (a command such as `taskset -c 1`).
    pub fn spawn(prefix: &str, args: &[String]) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let mut words = prefix.split_whitespace();
        let mut command = match words.next() {
            Some(program) => {
                let mut command = Command::new(program);
                command.args(words).arg(exe);
                command
            }
            None => Command::new(exe),
        };
        let mut child = command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take().context("child stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("child stdout")?);
        Ok(Self {
            child,
            stdin,
            stdout,
        })
    }

    pub fn send(&mut self, line: &str) -> anyhow::Result<()> {
        writeln!(self.stdin, "{line}")?;
        self.stdin.flush()?;
        Ok(())
    }

    pub fn line(&mut self) -> anyhow::Result<String> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            bail!("child process ended early");
        }
        Ok(line.trim().to_owned())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The agentcast under test.
pub struct Target {
    addr: SocketAddr,
    /// Path and query prefix of the subscribe URL.
    path: String,
    key: String,
    pid: Option<u32>,
    server: Option<Proc>,
    set_rate_cmd: Option<String>,
}

impl Target {
    pub fn start(args: &Args) -> anyhow::Result<Self> {
        Self::start_server(args, false)
    }

    /// The target, or with `bare` an in-bench bare actix-ws server (the memory floor).
    pub fn start_server(args: &Args, bare: bool) -> anyhow::Result<Self> {
        if let Some(url) = &args.url {
            let rest = url
                .strip_prefix("ws://")
                .context("--url must be ws://host:port/path")?;
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let addr = std::net::ToSocketAddrs::to_socket_addrs(host)?
                .next()
                .context("--url host does not resolve")?;
            return Ok(Self {
                addr,
                path: if path.is_empty() {
                    "/v1/subscribe".into()
                } else {
                    path.into()
                },
                key: args.key.clone().context("--key is required with --url")?,
                pid: args.pid,
                server: None,
                set_rate_cmd: args.set_rate_cmd.clone(),
            });
        }
        let key = format!("bench-{}", uuid::Uuid::new_v4());
        let mut server_args = vec![
            "--role".to_owned(),
            "server".into(),
            "--key".into(),
            key.clone(),
            "--workers".into(),
            args.workers.to_string(),
        ];
        if bare {
            server_args.push("--bare".into());
        }
        let mut server = Proc::spawn(&args.server_prefix, &server_args)?;
        let ready: Value = serde_json::from_str(&server.line()?)?;
        Ok(Self {
            addr: ready["addr"].as_str().context("server addr")?.parse()?,
            path: "/v1/subscribe".into(),
            key,
            pid: ready["pid"].as_u64().map(|p| p as u32),
            server: Some(server),
            set_rate_cmd: None,
        })
    }

    pub fn set_rate(&mut self, rate: u32) -> anyhow::Result<()> {
        if let Some(server) = &mut self.server {
            return server.send(&format!("rate {rate}"));
        }
        if let Some(cmd) = &self.set_rate_cmd {
            let status = Command::new("sh")
                .arg("-c")
                .arg(cmd.replace("{rate}", &rate.to_string()))
                .status()?;
            if !status.success() {
                bail!("--set-rate-cmd failed: {status}");
            }
        }
        Ok(())
    }

    pub fn cpu(&self) -> Option<f64> {
        self.pid.and_then(procfs::cpu_secs)
    }

    pub fn rss(&self) -> Option<u64> {
        self.pid.and_then(procfs::rss_kib)
    }

    /// `GET /v1/metrics`, for evictions.
    pub fn stats(&self) -> Option<Value> {
        serde_json::from_str(&self.get("/v1/metrics")?).ok()
    }

    /// A histogram's cumulative buckets from `GET /metrics`: `(upper bound, count)`.
    pub fn histogram(&self, name: &str) -> Option<Vec<(f64, u64)>> {
        let text = self.get("/metrics")?;
        let prefix = format!("{name}_bucket{{le=\"");
        Some(
            text.lines()
                .filter_map(|line| line.strip_prefix(&prefix))
                .filter_map(|rest| {
                    let (le, count) = rest.split_once("\"} ")?;
                    Some((
                        le.parse().unwrap_or(f64::INFINITY),
                        count.trim().parse().ok()?,
                    ))
                })
                .collect(),
        )
    }

    /// A body from the server (HTTP/1.1 GET, connection closed after).
    pub fn get(&self, path: &str) -> Option<String> {
        let mut stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        Some(response.split_once("\r\n\r\n")?.1.to_owned())
    }

    pub fn fleet_args(&self, n: usize, query: &str, stalled: bool) -> Vec<String> {
        let sep = if self.path.contains('?') { '&' } else { '?' };
        let mut args = vec![
            "--role".into(),
            "fleet".into(),
            "--addr".into(),
            self.addr.to_string(),
            "--key".into(),
            self.key.clone(),
            "--target".into(),
            format!("{}{sep}{query}", self.path),
            "--n".into(),
            n.to_string(),
        ];
        if stalled {
            args.push("--stalled".into());
        }
        args
    }
}

/// Subscriber fleets, `per_fleet` connections per process.
pub struct Fleets(Vec<Proc>);

impl Fleets {
    pub fn connect(target: &Target, args: &Args, n: usize, query: &str) -> anyhow::Result<Self> {
        let per_fleet = args.per_fleet;
        let mut fleets = Vec::new();
        let mut left = n;
        while left > 0 {
            let take = left.min(per_fleet);
            fleets.push(Proc::spawn(
                &args.fleet_prefix,
                &target.fleet_args(take, query, false),
            )?);
            left -= take;
        }
        for fleet in &mut fleets {
            let line = fleet.line()?;
            if line != "READY" {
                bail!("fleet said {line:?}");
            }
        }
        let mut fleets = Self(fleets);
        let ready: u64 = fleets
            .report()?
            .iter()
            .map(|r| r["ready"].as_u64().unwrap_or(0))
            .sum();
        if ready < n as u64 {
            bail!("only {ready} of {n} subscribers connected");
        }
        Ok(fleets)
    }

    pub fn all(&mut self, command: &str) -> anyhow::Result<()> {
        self.0.iter_mut().try_for_each(|f| f.send(command))
    }

    /// Asks every fleet, then reads every answer, so the windows close nearly together.
    pub fn report(&mut self) -> anyhow::Result<Vec<Value>> {
        self.all("report")?;
        self.0
            .iter_mut()
            .map(|f| Ok(serde_json::from_str(&f.line()?)?))
            .collect()
    }
}
