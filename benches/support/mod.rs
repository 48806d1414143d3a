//! What the benchmarks share: the emulator as a child process, and readings of a process's
//! CPU time and memory from `/proc`. Every figure a benchmark prints is measured.
#![allow(dead_code)] // each benchmark uses a different subset

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

/// `agentcast sim` running as a child process; stopped (SIGTERM, then SIGKILL) on drop.
pub struct Emulator {
    pub child: Child,
    pub base: String,
    pub client_id: String,
    pub client_secret: String,
}

impl Emulator {
    /// Starts `agentcast sim` with these arguments after `sim` and reads its first line.
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_agentcast"))
            .arg("sim")
            .args(args)
            .env("AGENTCAST_LOG_LEVEL", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("agentcast sim starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("first stdout line");
        let first: Value = serde_json::from_str(&line).expect("first line is JSON");
        let field = |k: &str| first[k].as_str().expect("field").to_owned();
        Self {
            base: field("base"),
            client_id: field("clientId"),
            client_secret: field("clientSecret"),
            child,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime of a process, in seconds.
pub fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    ticks as f64 / clock_ticks_per_sec()
}

/// A `/proc/<pid>/status` line in KiB (`VmRSS`, `VmHWM`).
pub fn status_kib(pid: u32, field: &str) -> f64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field).and_then(|v| v.strip_prefix(':')))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("a /proc status field")
}

pub fn rss_mib(pid: u32) -> f64 {
    status_kib(pid, "VmRSS") / 1024.0
}

pub fn peak_rss_mib(pid: u32) -> f64 {
    status_kib(pid, "VmHWM") / 1024.0
}

fn clock_ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// An environment variable parsed, or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds (utime + stime) of each thread of a process, by thread name (threads with the
/// same name are added up).
pub fn thread_cpu_secs(pid: u32) -> std::collections::BTreeMap<String, f64> {
    let mut by_name = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return by_name;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        let ticks = fields
            .get(11)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            + fields
                .get(12)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        *by_name.entry(name).or_insert(0.0) += ticks as f64 / clock_ticks_per_sec();
    }
    by_name
}

/// Per-thread CPU over a window, as % of one core, from two [`thread_cpu_secs`] readings.
pub fn thread_cpu_percent(
    before: &std::collections::BTreeMap<String, f64>,
    after: &std::collections::BTreeMap<String, f64>,
    secs: f64,
) -> serde_json::Map<String, Value> {
    after
        .iter()
        .map(|(name, end)| {
            let start = before.get(name).copied().unwrap_or(0.0);
            (
                name.clone(),
                Value::from(((end - start) / secs * 1000.0).round() / 10.0),
            )
        })
        .filter(|(_, v)| v.as_f64().unwrap_or(0.0) > 0.0)
        .collect()
}
