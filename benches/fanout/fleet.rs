//! A subscriber fleet: `--n` real WebSocket connections in one process, on one thread.
//!
//! Each `agent.state` received is measured: end-to-end latency = receive wall time (taken once
//! per socket read) − `availabilityStatusMatrix.timestamp`; its `seq` is checked against the
//! previous one on the same connection (a gap or a repeat is counted). Commands on stdin:
//! `reset` starts a measurement window, `report` prints one JSON line with the window's
//! figures; EOF ends the process. `--stalled` makes one subscriber that stops reading after its
//! welcome and snapshot.

use std::{
    cell::RefCell,
    io::BufRead,
    net::SocketAddr,
    rc::Rc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::Context as _;
use memchr::memmem::Finder;
use serde_json::json;

use crate::{
    Args,
    rawws::{OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, RawWs},
};

/// Latency histogram bucket width and range.
const BUCKET_US: u64 = 50;
const BUCKETS: usize = 200_000; // 10 s
/// Connections opened at once while ramping up.
const CONNECT_CONCURRENCY: usize = 128;

#[derive(Default)]
struct Stats {
    connected: usize,
    ready: usize,
    failed: usize,
    closed: Vec<u16>,
    deliveries: u64,
    frames: u64,
    bytes: u64,
    gaps: u64,
    /// Latency histogram (BUCKET_US wide) of the window.
    histogram: Vec<u64>,
    /// Latencies below zero (clock trouble) in the window.
    negative: u64,
    window_start: Option<Instant>,
    /// This process's CPU seconds at the window's start.
    cpu_at_start: f64,
}

impl Stats {
    fn reset(&mut self) {
        self.deliveries = 0;
        self.frames = 0;
        self.bytes = 0;
        self.gaps = 0;
        self.negative = 0;
        self.histogram.iter_mut().for_each(|b| *b = 0);
        self.closed.clear();
        self.window_start = Some(Instant::now());
        self.cpu_at_start = crate::procfs::cpu_secs(std::process::id()).unwrap_or(0.0);
    }

    fn report(&self) -> serde_json::Value {
        let buckets: Vec<[u64; 2]> = self
            .histogram
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| [i as u64, *n])
            .collect();
        json!({
            "connected": self.connected,
            "ready": self.ready,
            "failed": self.failed,
            "closed": self.closed,
            "deliveries": self.deliveries,
            "frames": self.frames,
            "bytes": self.bytes,
            "gaps": self.gaps,
            "negative": self.negative,
            "window_secs": self.window_start.map_or(0.0, |s| s.elapsed().as_secs_f64()),
            "cpu_secs": crate::procfs::cpu_secs(std::process::id()).unwrap_or(0.0) - self.cpu_at_start,
            "bucket_us": BUCKET_US,
            "histogram": buckets,
        })
    }
}

struct Parser {
    seq: Finder<'static>,
    timestamp: Finder<'static>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let addr: SocketAddr = args
        .addr
        .as_deref()
        .context("--addr is required")?
        .parse()
        .context("--addr must be host:port")?;
    let key = args.key.clone().context("--key is required")?;
    // The hand-written timestamp parser must agree with chrono, or every figure is wrong.
    let sample = "2026-11-27T17:02:11.412Z";
    let expected = chrono::DateTime::parse_from_rfc3339(sample)?.timestamp_millis();
    anyhow::ensure!(parse_rfc3339_ms(sample.as_bytes()) == Some(expected as u64));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let (commands_tx, mut commands) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if commands_tx.send(line).is_err() {
                break;
            }
        }
        std::process::exit(0);
    });
    local.block_on(&runtime, async move {
        let stats = Rc::new(RefCell::new(Stats {
            histogram: vec![0; BUCKETS + 1],
            ..Stats::default()
        }));
        let parser = Rc::new(Parser {
            seq: Finder::new(br#""seq":"#),
            timestamp: Finder::new(br#""timestamp":""#),
        });
        let auth = format!("Bearer {key}");
        let n = if args.stalled { 1 } else { args.n };
        let permits = Rc::new(tokio::sync::Semaphore::new(CONNECT_CONCURRENCY));
        for _ in 0..n {
            let (stats, parser, permits) =
                (Rc::clone(&stats), Rc::clone(&parser), Rc::clone(&permits));
            let (target, auth, stalled) = (args.target.clone(), auth.clone(), args.stalled);
            tokio::task::spawn_local(async move {
                let permit = permits.acquire().await;
                let recv_buffer = stalled.then_some(4096);
                let connected = tokio::time::timeout(
                    Duration::from_secs(60),
                    RawWs::connect(addr, &target, &[("Authorization", &auth)], recv_buffer),
                )
                .await;
                let mut ws = match connected {
                    Ok(Ok(Ok(ws))) => ws,
                    _ => {
                        stats.borrow_mut().failed += 1;
                        return;
                    }
                };
                stats.borrow_mut().connected += 1;
                if let Err(code) = subscriber(&mut ws, &stats, &parser, stalled, permit).await {
                    stats.borrow_mut().closed.push(code);
                }
            });
        }
        // READY once every subscriber got its catch-up (or failed).
        loop {
            {
                let s = stats.borrow();
                if s.ready + s.failed + s.closed.len() >= n {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        println!("READY");
        while let Some(command) = commands.recv().await {
            match command.trim() {
                "reset" => stats.borrow_mut().reset(),
                "report" => println!("{}", stats.borrow().report()),
                _ => {}
            }
        }
    });
    Ok(())
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Reads one subscriber's frames until the server closes (returns the close code).
async fn subscriber(
    ws: &mut RawWs,
    stats: &Rc<RefCell<Stats>>,
    parser: &Parser,
    stalled: bool,
    permit: Result<tokio::sync::SemaphorePermit<'_>, tokio::sync::AcquireError>,
) -> Result<(), u16> {
    let mut permit = Some(permit);
    let mut last_seq: Option<u64> = None;
    let mut caught_up = false;
    loop {
        let now = now_us();
        let mut pong: Option<Vec<u8>> = None;
        while let Some(frame) = ws.parse_buffered() {
            let payload = ws.payload(&frame);
            match frame.opcode {
                OP_TEXT => {
                    let mut s = stats.borrow_mut();
                    s.frames += 1;
                    s.bytes += payload.len() as u64;
                    if payload.starts_with(br#"{"type":"snapshot""#) {
                        if payload.ends_with(br#""last":true}"#) {
                            caught_up = true;
                        }
                    } else if payload.starts_with(br#"{"type":"welcome""#) {
                        if payload.windows(16).any(|w| w == br#""recovered":true"#) {
                            caught_up = true;
                        }
                    } else {
                        measure(payload, now, parser, &mut s, &mut last_seq);
                    }
                }
                OP_PING => pong = Some(payload.to_vec()),
                OP_CLOSE => {
                    let code = payload
                        .get(..2)
                        .map_or(1005, |c| u16::from_be_bytes([c[0], c[1]]));
                    return Err(code);
                }
                _ => {}
            }
        }
        if caught_up && permit.is_some() {
            permit = None;
            stats.borrow_mut().ready += 1;
            if stalled {
                // Never read again; keep the socket open until the process ends.
                std::future::pending::<()>().await;
            }
        }
        if let Some(payload) = pong
            && ws.send(OP_PONG, &payload).await.is_err()
        {
            return Err(1006);
        }
        match ws.fill().await {
            Ok(0) | Err(_) => return Err(1006),
            Ok(_) => {}
        }
    }
}

/// Every `agent.state` in a frame (one object, or an array of them).
fn measure(
    payload: &[u8],
    now_us: u64,
    parser: &Parser,
    s: &mut Stats,
    last_seq: &mut Option<u64>,
) {
    let mut rest = payload;
    while let Some(at) = parser.seq.find(rest) {
        rest = &rest[at + 6..];
        let seq = leading_number(rest);
        if let Some(last) = *last_seq
            && seq != last + 1
        {
            s.gaps += 1;
        }
        *last_seq = Some(seq);
        s.deliveries += 1;
        let Some(at) = parser.timestamp.find(rest) else {
            break;
        };
        rest = &rest[at + 13..];
        if let Some(stamp_ms) = rest.get(..24).and_then(parse_rfc3339_ms) {
            let latency = now_us as i64 - (stamp_ms * 1000) as i64;
            if latency < 0 {
                s.negative += 1;
            } else {
                let bucket = ((latency as u64) / BUCKET_US).min(BUCKETS as u64) as usize;
                s.histogram[bucket] += 1;
            }
        }
    }
}

fn leading_number(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0, |n, b| n * 10 + u64::from(b - b'0'))
}

/// `2026-11-27T17:02:11.412Z` → milliseconds since the Unix epoch.
fn parse_rfc3339_ms(s: &[u8]) -> Option<u64> {
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = s.get(range)?;
        digits.iter().try_fold(0i64, |n, b| {
            b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))
        })
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss, ms) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    let days = days_from_civil(y, m, d);
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    u64::try_from(secs * 1000 + ms).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
