//! Wiring of one emulator: the HTTP server (login, REST, streaming and admin on one port),
//! the emitter, and the one shutdown path.

use std::{future::Future, io, net::TcpListener, sync::Arc, time::Duration};

use actix_web::{App, HttpServer, middleware::from_fn, web};
use actix_ws::CloseCode;

use crate::sim::{
    admin, emitter,
    hub::{Control, close_reason},
    respond, rest, stream,
    world::{Sim, lock},
};

/// Time the HTTP server gives open connections to finish when stopping.
const SHUTDOWN_TIMEOUT_SECS: u64 = 2;
/// Most HTTP worker threads.
const MAX_WORKERS: usize = 4;

/// Serves until `shutdown` completes, then closes every socket and stops.
pub async fn serve(
    sim: Arc<Sim>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let data = web::Data::from(Arc::clone(&sim));
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, MAX_WORKERS);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .configure(respond::configure_extractors)
            .wrap(from_fn(respond::envelope))
            .configure(rest::configure)
            .configure(admin::configure)
            .route("/channels/{channelId}", web::get().to(stream::connect))
            .default_service(web::to(respond::not_found))
    })
    .workers(workers)
    .disable_signals()
    .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
    .listen(listener)?
    .run();
    let handle = server.handle();
    let mut server = actix_web::rt::spawn(server);
    let emitter = actix_web::rt::spawn(emitter::run(Arc::clone(&sim)));
    tokio::select! {
        () = shutdown => {}
        ended = &mut server => {
            emitter.abort();
            return ended.unwrap_or_else(|e| Err(io::Error::other(e)));
        }
    }
    tracing::info!("Emulator stopping.");
    emitter.abort();
    close_sockets(&sim);
    // Let socket tasks send their close frames before the workers stop.
    actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    handle.stop(true).await;
    server.await.unwrap_or_else(|e| Err(io::Error::other(e)))
}

fn close_sockets(sim: &Sim) {
    let mut hub = lock(&sim.hub);
    for slot in hub.connected_slots() {
        let reason = close_reason(CloseCode::Away, "server shutting down");
        hub.control(slot, Control::Close(reason));
    }
}
