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
    pipeline: Option<Pipeline>,
}

/// `--pipeline`: the emulator and `agentcast run`, each a child process.
struct Pipeline {
    emulator: Child,
    emulator_addr: SocketAddr,
    agentcast: Child,
    data_dir: std::path::PathBuf,
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        for child in [&mut self.agentcast, &mut self.emulator] {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// A raw HTTP/1.1 request (connection closed after); the answer's status line and body.
fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> Option<(String, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_owned(), body.to_owned()))
}

impl Pipeline {
    /// Starts the emulator, then `agentcast run` against it with a bench key; waits until it
    /// is ready. Returns the pipeline, agentcast's address and the key.
    fn start(agents: u32) -> anyhow::Result<(Self, SocketAddr, String)> {
        let exe = env!("CARGO_BIN_EXE_agentcast");
        let mut emulator = Command::new(exe)
            .args([
                "sim",
                "--agents",
                &agents.to_string(),
                "--events-per-sec",
                "0",
                "--listen",
                "127.0.0.1:0",
            ])
            .env("AGENTCAST_LOG_LEVEL", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut first = String::new();
        BufReader::new(emulator.stdout.take().context("emulator stdout")?).read_line(&mut first)?;
        let first: Value = serde_json::from_str(&first)?;
        let field = |k: &str| {
            first[k]
                .as_str()
                .map(str::to_owned)
                .context("emulator first line")
        };
        let base = field("base")?;
        let emulator_addr: SocketAddr = base.trim_start_matches("http://").parse()?;
        let key = format!("bench-{}", uuid::Uuid::new_v4());
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let data_dir =
            std::env::temp_dir().join(format!("agentcast-fanout-{}", std::process::id()));
        std::fs::create_dir_all(&data_dir)?;
        let config = data_dir.join("config.toml");
        std::fs::write(
            &config,
            format!(
                "[http]\nlisten = \"127.0.0.1:{port}\"\n\n[subscribers]\nmax_subscribers = 20000\n\n[[api_keys]]\nname = \"bench\"\nsha256 = \"{}\"\nscopes = [\"*\"]\n",
                agentcast::auth::hash_key_hex(&key)
            ),
        )?;
        let agentcast = Command::new(exe)
            .args(["--config", config.to_str().context("utf-8 path")?, "run"])
            .env("AGENTCAST_GENESYS_API_BASE", &base)
            .env("GENESYS_CLIENT_ID", field("clientId")?)
            .env("GENESYS_CLIENT_SECRET", field("clientSecret")?)
            .env(
                "AGENTCAST_WEBHOOK_OUTBOX_PATH",
                data_dir.join("outbox.sqlite"),
            )
            .env("AGENTCAST_AUDIT_PATH", data_dir.join("audit.sqlite"))
            .env("AGENTCAST_LOG_LEVEL", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let pipeline = Self {
            emulator,
            emulator_addr,
            agentcast,
            data_dir,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !http(addr, "GET", "/readyz", "").is_some_and(|(status, _)| status.contains(" 200 "))
        {
            if std::time::Instant::now() > deadline {
                bail!("agentcast did not become ready within 60 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok((pipeline, addr, key))
    }

    fn set_rate(&self, rate: u32) -> anyhow::Result<()> {
        let body = format!("{{\"eventsPerSec\":{rate}}}");
        for (path, body) in [("/sim/rate", body.as_str()), ("/sim/resume", "{}")] {
            match http(self.emulator_addr, "POST", path, body) {
                Some((status, _)) if status.contains(" 200 ") => {}
                other => bail!("the emulator refused {path}: {other:?}"),
            }
        }
        Ok(())
    }
}

impl Target {
    pub fn start(args: &Args) -> anyhow::Result<Self> {
        Self::start_server(args, false)
    }

    /// The target, or with `bare` an in-bench bare actix-ws server (the memory floor).
    pub fn start_server(args: &Args, bare: bool) -> anyhow::Result<Self> {
        if args.pipeline && !bare {
            let (pipeline, addr, key) = Pipeline::start(args.pipeline_agents)?;
            return Ok(Self {
                addr,
                path: "/v1/subscribe".into(),
                key,
                pid: Some(pipeline.agentcast.id()),
                server: None,
                set_rate_cmd: None,
                pipeline: Some(pipeline),
            });
        }
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
                pipeline: None,
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
            pipeline: None,
        })
    }

    pub fn set_rate(&mut self, rate: u32) -> anyhow::Result<()> {
        if let Some(pipeline) = &self.pipeline {
            return pipeline.set_rate(rate);
        }
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
