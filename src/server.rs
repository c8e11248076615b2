//! Serving one DAP session over a byte stream (stdio, or one TCP connection).
//!
//! Owns: the three tasks of a session — an editor reader (frames → [`Input`]s), a DAP writer
//! (the one place outgoing `seq` is assigned) and the [`Session`] loop — and their wiring;
//! when the editor's `attach` names several endpoints (`processes::Router`), the session
//! loop hands over to the multi-process session (`processes::run`), which reads the
//! editor's messages from then on.
//! Must not know: the legacy protocol.

use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use crate::dap::{self, DapWriter, Incoming, Message};
use crate::processes::{self, Routed, Router};
use crate::session::{EditorMessage, Input, Session};

/// Bound on queued outgoing messages; a stalled editor eventually stalls the session,
/// never memory. With program output at most `EVENT_TEXT_MAX` (16 KiB) per event, the
/// output waiting for a slow editor is at most about 4 MiB here.
const OUTGOING_QUEUE: usize = 256;
/// Bound on the session's queued inputs (the editor's requests, ptvsd's messages, the
/// session's own tasks' results): while the session waits on a slow editor, ptvsd's
/// output waits here and then in the debuggee's socket.
const INPUT_QUEUE: usize = 256;

/// Runs one session until the editor disconnects or closes `input`, or `shutdown`
/// completes (a signal): both detach from the debuggee like a disconnect would, so the
/// app is never left stopped or attached.
pub async fn serve<R, W, S>(input: R, output: W, shutdown: S)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
    S: std::future::Future<Output = ()> + Send + 'static,
{
    let (out_tx, mut out_rx) = mpsc::channel::<Message>(OUTGOING_QUEUE);
    let (in_tx, in_rx) = mpsc::channel::<Input>(INPUT_QUEUE);
    // The multi-process session's editor input and its start (see `processes`).
    let (multi_tx, multi_rx) = mpsc::channel::<Input>(INPUT_QUEUE);
    let (start_tx, mut start_rx) = tokio::sync::oneshot::channel::<processes::Start>();

    let writer = tokio::spawn(async move {
        let mut writer = DapWriter::new(output);
        while let Some(message) = out_rx.recv().await {
            if let Err(error) = writer.send(message).await {
                tracing::warn!(%error, "cannot write to the editor");
                break;
            }
        }
        let _ = writer.close().await;
    });

    let editor = in_tx.clone();
    let multi_editor = multi_tx.clone();
    let reader = tokio::spawn(async move {
        let mut frames = dap::reader(input);
        let mut router = Router::default();
        let mut start_tx = Some(start_tx);
        while let Some(frame) = frames.next().await {
            let input = match frame {
                Ok(frame) => match Incoming::from(frame) {
                    Incoming::Message(Message::Request(request)) => match router.route(request) {
                        Routed::Session(request) => Input::Editor(EditorMessage::Request(request)),
                        Routed::Processes(request) => {
                            if multi_editor.send(Input::Editor(EditorMessage::Request(request))).await.is_err() {
                                return;
                            }
                            continue;
                        }
                        Routed::Start(start) => {
                            // The one session never attached: it ends quietly, and the
                            // multi-process session takes over.
                            if let Some(start_tx) = start_tx.take() {
                                let _ = start_tx.send(start);
                            }
                            Input::EditorClosed
                        }
                    },
                    Incoming::Message(other) => {
                        // Responses to reverse requests and stray events: we send none.
                        tracing::debug!(?other, "ignoring a non-request message from the editor");
                        continue;
                    }
                    Incoming::Malformed(malformed) => {
                        let answerable = malformed.error_response().is_some();
                        Input::Editor(EditorMessage::Invalid {
                            seq: if answerable { malformed.seq } else { None },
                            command: malformed.command.clone(),
                            reason: malformed.reason.clone(),
                        })
                    }
                    Incoming::Framing(error) => {
                        Input::Editor(EditorMessage::Invalid { seq: None, command: None, reason: error.to_string() })
                    }
                },
                Err(error) => {
                    tracing::warn!(%error, "cannot read from the editor");
                    break;
                }
            };
            let to = if router.is_multi() && !matches!(input, Input::EditorClosed) { &multi_editor } else { &editor };
            if to.send(input).await.is_err() {
                return;
            }
        }
        let to = if router.is_multi() { &multi_editor } else { &editor };
        let _ = to.send(Input::EditorClosed).await;
    });

    let on_shutdown = in_tx.clone();
    let multi_shutdown = multi_tx.clone();
    let watcher = tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: detaching");
        let _ = on_shutdown.send(Input::EditorClosed).await;
        let _ = multi_shutdown.try_send(Input::EditorClosed);
    });

    Session::new(out_tx.clone(), in_tx).run(in_rx).await;
    drop(multi_tx);
    if let Ok(start) = start_rx.try_recv() {
        processes::run(start, out_tx.clone(), multi_rx).await;
    }
    drop(out_tx);
    reader.abort();
    watcher.abort();
    // The session dropped its sender: the writer drains what is queued and stops.
    let _ = writer.await;
}

/// Serves DAP on stdin/stdout until the session ends or a termination signal arrives.
///
/// When both are pipes (as editors start adapters) they are read and written
/// non-blocking on the runtime itself. `tokio::io::stdin`/`stdout` instead hand every read
/// and write to a blocking thread, which adds a thread hand-off at each end of every
/// request/response round trip and a copy of every outgoing message.
pub async fn serve_stdio() {
    #[cfg(unix)]
    if let Some((input, output)) = stdio_pipes() {
        tracing::debug!("stdin and stdout are pipes: non-blocking I/O");
        serve(input, output, termination()).await;
        return;
    }
    serve(tokio::io::stdin(), tokio::io::stdout(), termination()).await;
}

/// stdin and stdout as non-blocking tokio pipes, when both are pipes (FIFOs); `None`
/// otherwise (a terminal, a file, a socket), with both left as they were.
#[cfg(unix)]
fn stdio_pipes() -> Option<(tokio::net::unix::pipe::Receiver, tokio::net::unix::pipe::Sender)> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::FileTypeExt;
    use tokio::net::unix::pipe;

    let is_pipe = |fd: std::os::fd::BorrowedFd<'_>| {
        fd.try_clone_to_owned()
            .map(std::fs::File::from)
            .and_then(|file| file.metadata())
            .is_ok_and(|meta| meta.file_type().is_fifo())
    };
    let (stdin, stdout) = (std::io::stdin(), std::io::stdout());
    if !is_pipe(stdin.as_fd()) || !is_pipe(stdout.as_fd()) {
        return None;
    }
    // Duplicates share the open file description, so O_NONBLOCK applies to fds 0 and 1
    // too; nothing else in this process reads stdin or writes stdout in server mode.
    let input = pipe::Receiver::from_owned_fd(stdin.as_fd().try_clone_to_owned().ok()?).ok()?;
    match stdout.as_fd().try_clone_to_owned().and_then(pipe::Sender::from_owned_fd) {
        Ok(output) => Some((input, output)),
        Err(error) => {
            tracing::debug!(%error, "stdout cannot be used as a non-blocking pipe");
            // Put stdin back in blocking mode for tokio::io::stdin.
            let _ = input.into_blocking_fd();
            None
        }
    }
}

/// Serves DAP sessions over TCP, one at a time, until the listener fails or a
/// termination signal arrives.
pub async fn serve_tcp(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        termination().await;
        let _ = stop_tx.send(true);
    });
    loop {
        let mut stop = stop_rx.clone();
        let (socket, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = stop.changed() => return Ok(()),
        };
        tracing::info!(%peer, "editor connected");
        let _ = socket.set_nodelay(true);
        let (read, write) = socket.into_split();
        let mut session_stop = stop_rx.clone();
        serve(read, write, async move {
            let _ = session_stop.wait_for(|stopped| *stopped).await;
        })
        .await;
        tracing::info!(%peer, "session ended");
        if *stop_rx.borrow() {
            return Ok(());
        }
    }
}

/// Completes on SIGTERM, SIGINT or SIGHUP (editors kill adapters that linger), or on
/// Ctrl-C elsewhere.
pub async fn termination() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let kinds = [SignalKind::terminate(), SignalKind::interrupt(), SignalKind::hangup()];
        let mut streams: Vec<_> = kinds.into_iter().filter_map(|k| signal(k).ok()).collect();
        if streams.is_empty() {
            return std::future::pending().await;
        }
        let waits = streams.iter_mut().map(|s| Box::pin(s.recv()));
        futures_util::future::select_all(waits).await;
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
