//! An actor that forwards every message it is sent into a channel: how tests observe
//! delivery reports, audit records and published states without polling. Standalone (the
//! webhook benchmark includes it by `#[path]`).

use tokio::sync::mpsc;

/// Sends every message it gets into its channel.
pub struct Forward<M>(mpsc::UnboundedSender<M>);

impl<M: Unpin + 'static> actix::Actor for Forward<M> {
    type Context = actix::Context<Self>;
}

impl<M> actix::Handler<M> for Forward<M>
where
    M: actix::Message<Result = ()> + Send + Unpin + 'static,
{
    type Result = ();

    fn handle(&mut self, msg: M, _: &mut actix::Context<Self>) {
        let _ = self.0.send(msg);
    }
}

/// A recipient whose messages arrive on the returned channel.
pub fn forward<M>() -> (actix::Recipient<M>, mpsc::UnboundedReceiver<M>)
where
    M: actix::Message<Result = ()> + Send + Unpin + 'static,
{
    use actix::Actor;
    let (tx, rx) = mpsc::unbounded_channel();
    (Forward(tx).start().recipient(), rx)
}
