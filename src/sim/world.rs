//! The shared state of one running emulator.
//!
//! [`Sim`] is shared by the HTTP workers, the socket tasks and the emitter. Locks, always
//! taken in this order when nested: `world` → `hub`. The others (`auth`, `faults`, `calls`,
//! `downloads`) are taken alone and briefly. No lock is ever held across an `.await`.

use std::sync::{
    Mutex, MutexGuard, PoisonError,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::sim::{
    SimConfig,
    agent::{AgentState, Media},
    auth::Auth,
    clock::SimClock,
    faults::Faults,
    hub::Hub,
    org::{
        Initial, Org,
        schedule::{ShiftPlan, TimeOffMarker},
        utilization::Utilization,
    },
    respond::CallStats,
    rest::wfm::Downloads,
};

/// Highest rate the emitter accepts (changes per second); higher values are capped.
pub const MAX_EVENTS_PER_SEC: f64 = 10_000_000.0;

/// A rate made safe: not negative, not NaN, at most [`MAX_EVENTS_PER_SEC`].
fn clamp_rate(rate: f64) -> f64 {
    if rate.is_nan() {
        0.0
    } else {
        rate.clamp(0.0, MAX_EVENTS_PER_SEC)
    }
}

/// Changes kept for `GET /sim/events`.
pub const EVENT_LOG_LIMIT: usize = 10_000;

/// Locks a mutex, carrying on after a panic elsewhere (the state stays usable: every update
/// under these locks is a plain assignment that cannot be left half done).
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One message of a logged change, without timestamps.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedMessage {
    pub topic_name: String,
    pub correlation_id: String,
    pub event_body: Box<serde_json::value::RawValue>,
}

/// One change, as `GET /sim/events` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedChange {
    pub seq: u64,
    pub agent_id: String,
    pub messages: Vec<LoggedMessage>,
}

/// Everything that changes: agents, their shifts and overrides, the seeded generator.
#[derive(Debug)]
pub struct World {
    pub agents: Vec<AgentState>,
    pub shifts: Vec<Vec<ShiftPlan>>,
    pub time_off: Vec<Vec<TimeOffMarker>>,
    pub overrides: Vec<Option<Utilization>>,
    /// Every decision and event correlation id comes from here.
    pub rng: ChaCha8Rng,
    pub events_emitted: u64,
    pub log: Vec<LoggedChange>,
}

impl World {
    pub fn new(initial: Initial) -> Self {
        Self {
            agents: initial.agents,
            shifts: initial.shifts,
            time_off: initial.time_off,
            overrides: initial.overrides,
            rng: ChaCha8Rng::seed_from_u64(initial.machine_seed),
            events_emitted: 0,
            log: Vec::new(),
        }
    }

    /// The limits that apply to an agent (override or org default).
    pub fn utilization(&self, agent: u32) -> Utilization {
        self.overrides[agent as usize].unwrap_or(Utilization::ORG_DEFAULT)
    }

    /// True when some media type has more interactions than the agent's capacity.
    pub fn over_capacity(&self, agent: u32) -> bool {
        let caps = self.utilization(agent);
        let conversations = &self.agents[agent as usize].conversations;
        Media::ALL
            .into_iter()
            .any(|m| conversations[m.index()] > caps.capacity(m))
    }

    pub fn wants_log(&self) -> bool {
        self.log.len() < EVENT_LOG_LIMIT
    }
}

/// One running emulator.
#[derive(Debug)]
pub struct Sim {
    pub config: SimConfig,
    pub org: Org,
    pub world: Mutex<World>,
    pub hub: Mutex<Hub>,
    pub auth: Mutex<Auth>,
    pub faults: Mutex<Faults>,
    pub calls: Mutex<CallStats>,
    pub downloads: Mutex<Downloads>,
    /// What every deadline of the emulator is measured on (tests move it forward).
    pub clock: SimClock,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// `ws://127.0.0.1:PORT`.
    pub ws_base: String,
    paused: AtomicBool,
    /// `events_per_sec` as `f64` bits.
    rate: AtomicU64,
}

impl Sim {
    pub fn new(config: SimConfig, base: String) -> Self {
        let (org, initial) = crate::sim::org::generate(config.seed, config.agents, config.anchor);
        let agents = org.agents.len();
        Self {
            world: Mutex::new(World::new(initial)),
            hub: Mutex::new(Hub::new(agents, config.channel_ttl)),
            auth: Mutex::new(Auth::new(
                config.token_lifetime,
                config.rate_limit_per_minute,
            )),
            faults: Mutex::new(Faults::default()),
            calls: Mutex::new(CallStats::default()),
            clock: SimClock::default(),
            downloads: Mutex::new(Downloads::default()),
            ws_base: base.replacen("http://", "ws://", 1),
            base,
            paused: AtomicBool::new(false),
            rate: AtomicU64::new(clamp_rate(config.events_per_sec).to_bits()),
            org,
            config,
        }
    }

    pub fn paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
    }

    pub fn rate(&self) -> f64 {
        f64::from_bits(self.rate.load(Ordering::Relaxed))
    }

    pub fn set_rate(&self, events_per_sec: f64) {
        self.rate
            .store(clamp_rate(events_per_sec).to_bits(), Ordering::Relaxed);
    }
}
