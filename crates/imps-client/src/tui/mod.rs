//! `imps chat`: a terminal UI on the saved session. The state and its
//! rules are in [`app`], drawing in [`ui`], the network in [`net`]; this
//! module wires them into one event loop that a test can run on
//! ratatui's TestBackend with its own event channel.

pub mod app;
pub mod net;
pub mod ui;

use std::time::Duration;

use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::mpsc;

use crate::cli::Report;
use crate::cli::args::ChatArgs;
use crate::cli::session::{CliError, Ctx};
pub use app::{Action, App, AppEvent};

/// Depth of the event and action queues. Keys and pushes are small and
/// the loop drains them at once; a full queue makes the producer wait
/// (the WebSocket pump then leaves pushes in the client's own bounded
/// queue), so nothing grows without bound.
pub const QUEUE: usize = 256;

/// Runs the loop: each event updates the state, its actions go to the
/// network worker, and the screen is drawn again. Returns when the user
/// quits, when `until` says so after a draw, or when the events end.
pub async fn event_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    events: &mut mpsc::Receiver<AppEvent>,
    actions: &mpsc::Sender<Action>,
    mut until: impl FnMut(&App, &Terminal<B>) -> bool,
) -> Result<(), CliError> {
    let draw = |t: &mut Terminal<B>, app: &App| {
        t.draw(|f| ui::draw(f, app))
            .map(|_| ())
            .map_err(|e| CliError::Local(format!("drawing the screen: {e}")))
    };
    draw(terminal, app)?;
    if until(app, terminal) {
        return Ok(());
    }
    while let Some(ev) = events.recv().await {
        for a in app.on_event(ev) {
            if actions.send(a).await.is_err() {
                app.status = "the network worker stopped".into();
            }
        }
        // Draw once for a burst of events.
        while let Ok(ev) = events.try_recv() {
            for a in app.on_event(ev) {
                let _ = actions.send(a).await;
            }
        }
        draw(terminal, app)?;
        if app.quit || until(app, terminal) {
            break;
        }
    }
    Ok(())
}

/// Loads the start state and starts the network side: the action worker
/// and the push pump (WebSocket, or polling with `poll`). Returns the app
/// and the channels the loop needs.
pub async fn start(
    mut ctx: Ctx,
    poll: bool,
) -> Result<
    (
        App,
        mpsc::Receiver<AppEvent>,
        mpsc::Sender<AppEvent>,
        mpsc::Sender<Action>,
    ),
    CliError,
> {
    let mut app = App::new(&ctx.profile.user);
    net::load(&mut ctx, &mut app).await;
    let (ev_tx, ev_rx) = mpsc::channel(QUEUE);
    let (act_tx, act_rx) = mpsc::channel(QUEUE);
    if poll {
        // The clone shares the session (and its TransactionIDs).
        tokio::spawn(net::poll_pump(
            ctx.client.clone(),
            Duration::from_secs(1),
            ev_tx.clone(),
        ));
    } else {
        let ws = net::connect_ws(&ctx).await?;
        tokio::spawn(net::ws_pump(ws, ev_tx.clone()));
    }
    tokio::spawn(net::worker(ctx, act_rx, ev_tx.clone()));
    Ok((app, ev_rx, ev_tx, act_tx))
}

/// `imps chat` on the real terminal.
pub async fn run(ctx: Ctx, args: ChatArgs) -> Result<Report, CliError> {
    let (mut app, mut ev_rx, ev_tx, act_tx) = start(ctx, args.poll).await?;
    // Keys come from crossterm's async stream into the same queue.
    let keys = tokio::spawn(async move {
        let mut stream = crossterm::event::EventStream::new();
        while let Some(Ok(ev)) = stream.next().await {
            if let crossterm::event::Event::Key(k) = ev
                && ev_tx.send(AppEvent::Key(k)).await.is_err()
            {
                return;
            }
        }
    });
    let mut terminal =
        ratatui::try_init().map_err(|e| CliError::Local(format!("opening the terminal: {e}")))?;
    let res = event_loop(&mut terminal, &mut app, &mut ev_rx, &act_tx, |_, _| false).await;
    ratatui::restore();
    keys.abort();
    res.map(|()| Report::done())
}
