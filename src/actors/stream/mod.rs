//! GenesysStreamActor: the one upstream connection of the process.
//!
//! At start it reads the roster (through the [`ReferenceActor`]), spreads the agents' topics
//! (`activity`, `conversationsummary`, `workforcemanagement.schedules`) over as many channels
//! as the 1,000-topic limit needs — an agent's topics always share a channel — and starts a
//! [`ChannelActor`] per channel. Then it keeps the set healthy: a replacement channel when one
//! is gone, subscriptions renewed before the 24 h expiry, the roster refreshed on a timer
//! (joiners subscribed, leavers removed), the token renewed before it expires, and after
//! every (re)connect a **reconciliation**: current presence, routing status and interaction
//! counts read in bulk and sent to the validators as observations, so that a change made
//! while a socket was down is not lost.

mod channel;
mod plan;

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use actix::{
    Actor, ActorContext, ActorFutureExt, Addr, AsyncContext, Context, Handler, Message, Recipient,
    ResponseActFuture, WrapFuture,
};
use chrono::Utc;
use tracing::{info, warn};

pub use channel::ReconnectCause;
use channel::{ChannelActor, ChannelDown, ChannelGone, ChannelUp, CloseChannel, UseChannel};
pub use plan::{AGENTS_PER_CHANNEL, TOPICS_PER_AGENT, agent_topics};

use super::{
    ingest_metrics::IngestMetrics,
    reference::{LoadReference, LoadRoster, ReferenceActor, ScheduleChanged},
    validator::{AgentSignal, SignalInput, ValidatorPool},
};
use crate::{
    config::UpstreamSettings,
    event::{AgentId, AuditSink},
    genesys::{
        GenesysClient, GenesysError, UserExpand, backoff::Backoff, models::Channel,
        topics::TooManyTopics,
    },
};

/// How long start-up waits for the first reference data (schedules, limits).
const REFERENCE_LOAD_WAIT: Duration = Duration::from_secs(60);

/// What the channel actors share.
#[derive(Clone)]
pub struct StreamContext {
    pub client: GenesysClient,
    pub pool: ValidatorPool,
    /// Where schedules notifications go (the ReferenceActor).
    pub schedule_changes: Recipient<ScheduleChanged>,
    pub metrics: IngestMetrics,
    pub audit: Option<AuditSink>,
    pub upstream: UpstreamSettings,
    pub max_payload_bytes: usize,
    pub reconnect_backoff: Backoff,
}

/// Upstream health, shared with `/readyz` and the metrics JSON.
#[derive(Debug, Default)]
pub struct UpstreamStatus {
    pub channels: AtomicUsize,
    pub connected: AtomicUsize,
    pub agents: AtomicUsize,
    pub reconciled: AtomicBool,
    /// The stream actor has stopped (shutdown): nothing upstream is retried any more.
    pub stopped: AtomicBool,
}

impl UpstreamStatus {
    /// Every channel connected and the first reconciliation done, and not stopped.
    pub fn is_ready(&self) -> bool {
        let channels = self.channels.load(Ordering::Relaxed);
        !self.stopped.load(Ordering::Relaxed)
            && channels > 0
            && self.connected.load(Ordering::Relaxed) == channels
            && self.reconciled.load(Ordering::Relaxed)
    }
}

/// Why the stream could not start.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("could not read the roster: {0}")]
    Roster(GenesysError),
    #[error(transparent)]
    TooManyTopics(#[from] TooManyTopics),
    #[error("could not create or subscribe a notification channel: {0}")]
    Subscribe(GenesysError),
    #[error("the reference actor stopped")]
    LoaderStopped,
}

/// Starts the stream: roster, channels, sockets. Replies once every channel is subscribed
/// (sockets connect on their own from then on).
#[derive(Message)]
#[rtype(result = "Result<(), StreamError>")]
pub struct Start;

/// Closes every channel socket (shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

/// One channel and the agents it carries.
struct Slot {
    agents: Vec<AgentId>,
    channel: Channel,
    actor: Option<Addr<ChannelActor>>,
    connected: bool,
    /// When the subscriptions were last (re)placed, which renews the channel's lifetime.
    renewed_at: Instant,
    /// How long a channel lives after a subscription (from its first `expires`).
    lifetime: Duration,
}

pub struct GenesysStreamActor {
    cx: StreamContext,
    reference: Addr<ReferenceActor>,
    status: Arc<UpstreamStatus>,
    slots: Vec<Slot>,
    roster: HashSet<AgentId>,
    reconcile_scheduled: bool,
    /// Reconciliations failed in a row (the backoff's step).
    reconcile_failures: u32,
    started: bool,
}

impl GenesysStreamActor {
    pub fn new(
        cx: StreamContext,
        reference: Addr<ReferenceActor>,
        status: Arc<UpstreamStatus>,
    ) -> Self {
        Self {
            cx,
            reference,
            status,
            slots: Vec::new(),
            roster: HashSet::new(),
            reconcile_scheduled: false,
            reconcile_failures: 0,
            started: false,
        }
    }

    /// Reconciles soon, once: several channels (re)connecting together share one fetch.
    fn schedule_reconcile(&mut self, ctx: &mut Context<Self>) {
        if self.reconcile_scheduled {
            return;
        }
        self.reconcile_scheduled = true;
        // After failures, back off like a reconnect (a REST outage is not retried in a loop).
        let delay = Duration::from_millis(self.cx.upstream.reconcile_delay_ms).max(
            self.reconcile_failures
                .checked_sub(1)
                .map_or(Duration::ZERO, |step| self.cx.reconnect_backoff.delay(step)),
        );
        ctx.run_later(delay, |act, ctx| {
            act.reconcile_scheduled = false;
            act.reconcile(ctx);
        });
    }

    /// Reads every agent's current state in bulk and hands it to the validators, which emit
    /// a change (marked reconciled) for each agent whose state moved.
    fn reconcile(&mut self, ctx: &mut Context<Self>) {
        let client = self.cx.client.clone();
        let fetched_at = Instant::now();
        let expand = [
            UserExpand::Presence,
            UserExpand::RoutingStatus,
            UserExpand::ConversationSummary,
        ];
        ctx.spawn(
            async move { client.all_users(&expand).await }
                .into_actor(self)
                .map(move |result, act, ctx| match result {
                    Ok(users) => {
                        let mut sent = 0;
                        for user in users {
                            let agent_id = AgentId::from(user.id.as_str());
                            if act.roster.contains(&agent_id) {
                                act.cx.pool.send(AgentSignal {
                                    agent_id,
                                    received_at: Instant::now(),
                                    input: SignalInput::Observed {
                                        user: Box::new(user),
                                        fetched_at,
                                    },
                                });
                                sent += 1;
                            }
                        }
                        act.reconcile_failures = 0;
                        act.status.reconciled.store(true, Ordering::Relaxed);
                        info!(
                            agents = sent,
                            "Reconciled agent states after (re)connecting."
                        );
                    }
                    Err(err) => {
                        act.reconcile_failures = act.reconcile_failures.saturating_add(1);
                        warn!(error = %err, failures = act.reconcile_failures, "Reconciliation failed; retrying.");
                        act.schedule_reconcile(ctx);
                    }
                }),
        );
    }

    /// Subscribes a new channel to `agents`' topics and returns the slot.
    async fn subscribe(client: GenesysClient, agents: Vec<AgentId>) -> Result<Slot, GenesysError> {
        let topics: Vec<String> = agents.iter().flat_map(|a| agent_topics(a)).collect();
        let subscribed = client.subscribe_channel(topics).await?;
        let lifetime = subscribed
            .channel
            .expires
            .and_then(|e| (e - Utc::now()).to_std().ok())
            .unwrap_or(Duration::from_secs(24 * 3600));
        Ok(Slot {
            agents,
            channel: subscribed.channel,
            actor: None,
            connected: false,
            renewed_at: Instant::now(),
            lifetime,
        })
    }

    fn start_channel(&mut self, index: usize, ctx: &mut Context<Self>) {
        let slot = &mut self.slots[index];
        let actor =
            ChannelActor::new(index, slot.channel.clone(), ctx.address(), self.cx.clone()).start();
        slot.actor = Some(actor);
    }

    /// Re-places a slot's subscriptions (renewing the channel) after its agents changed or
    /// its expiry approaches.
    fn resubscribe(&mut self, index: usize, ctx: &mut Context<Self>) {
        let client = self.cx.client.clone();
        let channel_id = self.slots[index].channel.id.clone();
        let topics: Vec<String> = self.slots[index]
            .agents
            .iter()
            .flat_map(|a| agent_topics(a))
            .collect();
        ctx.spawn(async move { client.replace_subscriptions(&channel_id, &topics).await }.into_actor(self).map(move |result, act, _| {
            match result {
                Ok(_) => {
                    if let Some(slot) = act.slots.get_mut(index) {
                        slot.renewed_at = Instant::now();
                    }
                }
                Err(err) => warn!(index, error = %err, "Could not renew a channel's subscriptions; its socket will find out."),
            }
        }));
    }

    fn renew_due(&mut self, ctx: &mut Context<Self>) {
        let margin = Duration::from_secs(self.cx.upstream.renew_before_expiry_secs);
        let due: Vec<usize> = (0..self.slots.len())
            .filter(|i| {
                let slot = &self.slots[*i];
                slot.renewed_at.elapsed() + margin.min(slot.lifetime / 2) >= slot.lifetime
            })
            .collect();
        for index in due {
            self.slots[index].renewed_at = Instant::now();
            self.resubscribe(index, ctx);
        }
    }

    fn refresh_roster(&mut self, ctx: &mut Context<Self>) {
        let loader = self.reference.clone();
        ctx.spawn(
            async move { loader.send(LoadRoster).await }
                .into_actor(self)
                .map(|result, act, ctx| {
                    let roster: HashSet<AgentId> = match result {
                        Ok(Ok(roster)) => roster.into_iter().collect(),
                        Ok(Err(err)) => return warn!(error = %err, "Could not refresh the roster."),
                        Err(_) => return,
                    };
                    let leavers: HashSet<AgentId> =
                        act.roster.difference(&roster).cloned().collect();
                    let mut joiners: Vec<AgentId> =
                        roster.difference(&act.roster).cloned().collect();
                    if leavers.is_empty() && joiners.is_empty() {
                        return;
                    }
                    info!(
                        joiners = joiners.len(),
                        leavers = leavers.len(),
                        "Roster changed."
                    );
                    act.roster = roster;
                    act.status.agents.store(act.roster.len(), Ordering::Relaxed);
                    let mut changed = HashSet::new();
                    for (index, slot) in act.slots.iter_mut().enumerate() {
                        let before = slot.agents.len();
                        slot.agents.retain(|a| !leavers.contains(a));
                        let mut moved = slot.agents.len() != before;
                        while slot.agents.len() < AGENTS_PER_CHANNEL
                            && let Some(joiner) = joiners.pop()
                        {
                            slot.agents.push(joiner);
                            moved = true;
                        }
                        if moved {
                            changed.insert(index);
                        }
                    }
                    for index in changed {
                        act.resubscribe(index, ctx);
                    }
                    if !joiners.is_empty() {
                        act.add_channels(joiners, ctx);
                    }
                }),
        );
    }

    /// Adds channels for agents that fit in no existing one.
    fn add_channels(&mut self, agents: Vec<AgentId>, ctx: &mut Context<Self>) {
        let groups: Vec<Vec<AgentId>> = agents
            .chunks(AGENTS_PER_CHANNEL)
            .map(<[AgentId]>::to_vec)
            .collect();
        if let Err(err) =
            plan::check_channel_count(self.slots.len() + groups.len(), self.roster.len())
        {
            warn!(error = %err, "Cannot subscribe every joiner.");
            return;
        }
        for group in groups {
            let client = self.cx.client.clone();
            ctx.spawn(
                Self::subscribe(client, group).into_actor(self).map(
                    |result, act, ctx| match result {
                        Ok(slot) => {
                            act.slots.push(slot);
                            act.status
                                .channels
                                .store(act.slots.len(), Ordering::Relaxed);
                            act.start_channel(act.slots.len() - 1, ctx);
                        }
                        Err(err) => {
                            warn!(error = %err, "Could not subscribe a channel for joiners.")
                        }
                    },
                ),
            );
        }
    }
}

impl Actor for GenesysStreamActor {
    type Context = Context<Self>;

    /// Stopping drops every pending timer and future of the actor: channel replacements and
    /// reconciliations are not retried after shutdown.
    fn stopped(&mut self, _: &mut Context<Self>) {
        self.status.stopped.store(true, Ordering::Relaxed);
        info!("Upstream stream stopped.");
    }
}

impl Handler<Start> for GenesysStreamActor {
    type Result = ResponseActFuture<Self, Result<(), StreamError>>;

    fn handle(&mut self, _: Start, _: &mut Context<Self>) -> Self::Result {
        let loader = self.reference.clone();
        let client = self.cx.client.clone();
        let fut = async move {
            let roster = loader
                .send(LoadRoster)
                .await
                .map_err(|_| StreamError::LoaderStopped)?
                .map_err(StreamError::Roster)?;
            let groups = plan::group_agents(&roster)?;
            // The first states published should be checked against real reference data: wait for
            // it, but not forever (what could not be had is marked unknown and retried).
            if actix_rt::time::timeout(REFERENCE_LOAD_WAIT, loader.send(LoadReference))
                .await
                .is_err()
            {
                warn!("Reference data is still loading; starting with what is known.");
            }
            let total = groups.len();
            let mut slots = Vec::with_capacity(total);
            for (i, group) in groups.into_iter().enumerate() {
                let slot = Self::subscribe(client.clone(), group)
                    .await
                    .map_err(StreamError::Subscribe)?;
                info!(
                    channel = i + 1,
                    of = total,
                    agents = slot.agents.len(),
                    "Subscribed a notification channel."
                );
                slots.push(slot);
            }
            Ok((roster, slots))
        };
        Box::pin(fut.into_actor(self).map(|result: Result<_, StreamError>, act, ctx| {
            let (roster, slots) = result?;
            act.roster = roster.into_iter().collect();
            act.slots = slots;
            act.status.agents.store(act.roster.len(), Ordering::Relaxed);
            act.status.channels.store(act.slots.len(), Ordering::Relaxed);
            for index in 0..act.slots.len() {
                act.start_channel(index, ctx);
            }
            if !act.started {
                act.started = true;
                ctx.run_interval(Duration::from_secs(60).min(Duration::from_secs(act.cx.upstream.renew_before_expiry_secs.max(1))), |act, ctx| {
                    act.renew_due(ctx)
                });
                ctx.run_interval(Duration::from_secs(act.cx.upstream.roster_refresh_secs), |act, ctx| act.refresh_roster(ctx));
                ctx.run_interval(Duration::from_secs(30), |act, ctx| {
                    // Renew the token ahead of its expiry even when no REST call is due.
                    let client = act.cx.client.clone();
                    ctx.spawn(async move { client.tokens().authorization().await.map(drop) }.into_actor(act).map(|result, _, _| {
                        if let Err(err) = result {
                            warn!(error = %err, "Could not renew the access token.");
                        }
                    }));
                });
            }
            info!(agents = act.roster.len(), channels = act.slots.len(), "Upstream subscribed.");
            Ok(())
        }))
    }
}

impl Handler<ChannelUp> for GenesysStreamActor {
    type Result = ();

    fn handle(&mut self, msg: ChannelUp, ctx: &mut Context<Self>) {
        if let Some(slot) = self.slots.get_mut(msg.index)
            && !std::mem::replace(&mut slot.connected, true)
        {
            self.status.connected.fetch_add(1, Ordering::Relaxed);
        }
        self.schedule_reconcile(ctx);
    }
}

impl Handler<ChannelDown> for GenesysStreamActor {
    type Result = ();

    fn handle(&mut self, msg: ChannelDown, _: &mut Context<Self>) {
        if let Some(slot) = self.slots.get_mut(msg.index)
            && std::mem::replace(&mut slot.connected, false)
        {
            self.status.connected.fetch_sub(1, Ordering::Relaxed);
        }
        // The channel has audited the disconnect (with its id); one record per happening.
    }
}

impl Handler<ChannelGone> for GenesysStreamActor {
    type Result = ();

    fn handle(&mut self, msg: ChannelGone, ctx: &mut Context<Self>) {
        let Some(slot) = self.slots.get(msg.index) else {
            return;
        };
        let client = self.cx.client.clone();
        let agents = slot.agents.clone();
        ctx.spawn(Self::subscribe(client, agents).into_actor(self).map(move |result, act, ctx| match result {
            Ok(replacement) => {
                info!(index = msg.index, channel_id = %replacement.channel.id, "Replaced a channel that no longer existed.");
                let channel = replacement.channel.clone();
                let actor = act.slots[msg.index].actor.take();
                act.slots[msg.index] = Slot { actor, ..replacement };
                if let Some(actor) = &act.slots[msg.index].actor {
                    actor.do_send(UseChannel { channel });
                }
            }
            Err(err) => {
                let delay = act.cx.reconnect_backoff.delay(msg.attempt);
                warn!(index = msg.index, attempt = msg.attempt + 1, retry_in_ms = delay.as_millis() as u64, error = %err, "Could not replace a channel; retrying.");
                let retry = ChannelGone { index: msg.index, attempt: msg.attempt.saturating_add(1) };
                ctx.run_later(delay, move |_, ctx| ctx.notify(retry));
            }
        }));
    }
}

impl Handler<Shutdown> for GenesysStreamActor {
    type Result = ();

    /// Closes the sockets and stops the actor, which cancels every retry it has pending
    /// (channel replacements, reconciliation).
    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        for slot in &mut self.slots {
            if let Some(actor) = slot.actor.take() {
                actor.do_send(CloseChannel);
            }
        }
        info!("Upstream channels closed.");
        ctx.stop();
    }
}
