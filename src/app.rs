//! Start-up and shutdown in one place: open the store, migrate, start the engine loops and the HTTP
//! server; on shutdown stop taking requests, finish the commits in flight, then stop the loops.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::chat::handler::ChatHandler;
use crate::chat::inbox::InboxWorker;
use crate::chat::outgoing::sink_name;
use crate::chat::sink::{ChatApi, ChatContext, ChatSink, Pacer};
use crate::chat::telegram::{TelegramBot, TelegramLoop};
use crate::config::Config;
use crate::email::poller::MailboxLoop;
use crate::email::sink::{MailSink, Mailer, smtp_settings};
use crate::engine::handover;
use crate::engine::outbox::Dispatcher;
use crate::engine::paging::{self, PAGING_SINK, PagingSink};
use crate::engine::{Clock, IncidentService, IntakeQueue, SystemClock, Wakeups, sinks, timers};
use crate::messages::{Messages, MessagesError};
use crate::metrics::Metrics;
use crate::store::{self, SharedStore, StoreError};
use crate::web::{self, AppState};
use zhiban_integrations::chat::Provider;
use zhiban_integrations::email::smtp::SmtpSender;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database {url}: {source}")]
    Store { url: String, source: StoreError },
    #[error(transparent)]
    Messages(#[from] MessagesError),
    #[error("telegram.api_url: {0}")]
    Telegram(String),
    #[error("email.smtp: {0}")]
    Email(String),
    #[error("{0}")]
    Im(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

pub struct StartOptions {
    pub clock: Arc<dyn Clock>,
    /// Listen here instead of `server.listen` (tests pass a listener bound to port 0).
    pub listener: Option<TcpListener>,
    /// How often the timer and outbox loops look for work armed by other instances.
    pub poll_interval: Duration,
}

impl Default for StartOptions {
    fn default() -> Self {
        StartOptions { clock: Arc::new(SystemClock), listener: None, poll_interval: Duration::from_secs(2) }
    }
}

/// A running zhiban.
pub struct Running {
    pub addr: SocketAddr,
    pub store: SharedStore,
    pub instance: String,
    stop_http: CancellationToken,
    stop_engine: CancellationToken,
    server: JoinHandle<()>,
    intake_workers: Vec<JoinHandle<()>>,
    loops: Vec<JoinHandle<()>>,
    grace: Duration,
}

/// Open the configured store and apply migrations.
pub async fn open_store(config: &Config) -> Result<SharedStore, StartError> {
    let url = store::redact_url(&config.database_url);
    let store = store::connect(&config.database_url)
        .await
        .map_err(|source| StartError::Store { url: url.clone(), source })?;
    store.migrate().await.map_err(|source| StartError::Store { url, source })?;
    Ok(store)
}

pub async fn start(config: Config, options: StartOptions) -> Result<Running, StartError> {
    let config = Arc::new(config);
    let store = open_store(&config).await?;
    let instance = format!("{}-{:08x}", std::process::id(), rand::random::<u32>());
    let messages = Arc::new(Messages::load(config.server.language, config.server.timezone.clone())?);
    web::error::set_summaries(&messages);
    let metrics = Arc::new(Metrics::default());
    let wakeups = Wakeups::default();
    let service = Arc::new(IncidentService::new(
        store.clone(),
        options.clock.clone(),
        config.clone(),
        messages.clone(),
        metrics.clone(),
        wakeups.clone(),
    ));
    // Shift swaps recorded at runtime count from the first page on; so do drill plans edited
    // through the API.
    crate::engine::swaps::reload(&service)
        .await
        .map_err(|source| StartError::Store { url: store::redact_url(&config.database_url), source })?;
    crate::engine::drills::reload(&service)
        .await
        .map_err(|source| StartError::Store { url: store::redact_url(&config.database_url), source })?;

    // Writes run one at a time on both backends (SQLite's writer, PostgreSQL's advisory lock), so
    // one worker gathering everything queued meanwhile makes the largest batches; a second worker
    // only splits them (measured on both backends).
    let workers = 1;
    let (intake, intake_workers) =
        IntakeQueue::start(service.clone(), config.intake.max_batch, workers, 4096);

    let stop_engine = CancellationToken::new();
    let http =
        sinks::http_client(Duration::from_millis(config.outbox.send_timeout.as_millis().max(1) as u64));
    let mut sink_map: HashMap<_, _> =
        config.sinks.iter().map(|s| (s.name.clone(), sinks::build(s, &http))).collect();
    let sms = crate::engine::sms::SmsContext {
        service: service.clone(),
        config: config.clone(),
        messages: messages.clone(),
        http: http.clone(),
        stop: stop_engine.clone(),
    };
    // Telegram, when configured: its outbox sink, its page channel, its loops.
    let inbox_wake = Arc::new(tokio::sync::Notify::new());
    let telegram = match &config.telegram {
        Some(t) => {
            let api =
                zhiban_integrations::telegram::TelegramApi::new(t.token.expose(), &t.api_url, http.clone())
                    .map_err(|e| StartError::Telegram(e.to_string()))?;
            let bot = Arc::new(TelegramBot { api });
            let ctx = ChatContext {
                api: bot.clone(),
                pacer: Arc::new(Pacer::new(t.max_per_second, t.group_per_minute)),
                store: store.clone(),
                config: config.clone(),
                messages: messages.clone(),
                clock: options.clock.clone(),
            };
            sink_map.insert(
                sink_name(Provider::Telegram),
                Box::new(ChatSink { ctx: ctx.clone() }) as Box<dyn sinks::Sink>,
            );
            Some((bot, ctx, t.clone()))
        }
        None => None,
    };
    // WeCom, DingTalk and Feishu, when configured: the apps and the group robots of the channels.
    let im = crate::chat::robot::build(&config, &http, &store, &messages, &options.clock)
        .map_err(StartError::Im)?;
    for (name, sink) in im.sinks {
        sink_map.insert(name, sink);
    }
    let mut chat_contexts = im.contexts;
    if let Some((_, ctx, _)) = &telegram {
        chat_contexts.insert(Provider::Telegram, ctx.clone());
    }
    // Email, when configured: the SMTP sink and page channel, and a loop per mailbox.
    let mailer = match config.email.as_ref().and_then(|e| e.smtp.as_ref()) {
        Some(smtp) => {
            let sender =
                SmtpSender::new(&smtp_settings(smtp)).map_err(|e| StartError::Email(e.to_string()))?;
            let mailer = Mailer {
                sender: Arc::new(sender),
                store: store.clone(),
                config: config.clone(),
                messages: messages.clone(),
                clock: options.clock.clone(),
            };
            sink_map.insert(
                crate::email::outgoing::SINK.to_string(),
                Box::new(MailSink { mailer: mailer.clone() }) as Box<dyn sinks::Sink>,
            );
            Some(mailer)
        }
        None => None,
    };
    let chat_apis: HashMap<Provider, Arc<dyn ChatApi>> =
        chat_contexts.iter().map(|(p, ctx)| (*p, ctx.api.clone())).collect();
    let chat_handler = Arc::new(ChatHandler::new(service.clone(), chat_apis));
    let paging_sink = PagingSink {
        store: store.clone(),
        clock: options.clock.clone(),
        config: config.clone(),
        messages: messages.clone(),
        channels: config
            .paging
            .channels
            .iter()
            .map(|c| (c.name.clone(), paging::build_channel(c, &http, &sms, &chat_contexts, mailer.as_ref())))
            .collect(),
    };
    sink_map.insert(PAGING_SINK.to_string(), Box::new(paging_sink) as Box<dyn sinks::Sink>);
    let dispatcher = Dispatcher {
        store: store.clone(),
        clock: options.clock.clone(),
        sinks: sink_map,
        config: config.outbox.clone(),
        worker: instance.clone(),
        metrics: metrics.clone(),
    };
    let loops = vec![
        tokio::spawn(dispatcher.run(wakeups.outbox.clone(), options.poll_interval, stop_engine.clone())),
        tokio::spawn(timers::run(
            service.clone(),
            wakeups.timers.clone(),
            options.poll_interval,
            stop_engine.clone(),
        )),
        tokio::spawn(handover::run(service.clone(), options.poll_interval, stop_engine.clone())),
        tokio::spawn(crate::engine::drills::run(service.clone(), options.poll_interval, stop_engine.clone())),
        tokio::spawn(crate::engine::emergency::run(
            service.clone(),
            options.poll_interval,
            stop_engine.clone(),
        )),
        tokio::spawn(
            InboxWorker {
                store: store.clone(),
                clock: options.clock.clone(),
                handler: chat_handler.clone(),
                worker: instance.clone(),
            }
            .run(inbox_wake.clone(), options.poll_interval, stop_engine.clone()),
        ),
    ];
    let mut loops = loops;
    for mailbox in config.email.iter().flat_map(|e| e.mailboxes.iter()) {
        let mailbox_loop =
            MailboxLoop { service: service.clone(), mailbox: mailbox.clone(), instance: instance.clone() };
        loops.push(tokio::spawn(mailbox_loop.run(stop_engine.clone())));
    }
    if let Some((bot, _, t)) = telegram {
        let telegram_loop = TelegramLoop {
            bot,
            config: t,
            public_url: config.server.public_url.clone(),
            store: store.clone(),
            clock: options.clock.clone(),
            handler: chat_handler.clone(),
            instance: instance.clone(),
            inbox: inbox_wake.clone(),
        };
        loops.push(tokio::spawn(telegram_loop.run(stop_engine.clone())));
    }

    let listener = match options.listener {
        Some(l) => l,
        None => TcpListener::bind(config.server.listen)
            .await
            .map_err(|source| StartError::Bind { addr: config.server.listen, source })?,
    };
    let addr =
        listener.local_addr().map_err(|source| StartError::Bind { addr: config.server.listen, source })?;
    let state = AppState {
        config: config.clone(),
        store: store.clone(),
        service,
        intake,
        messages,
        metrics,
        inbox_wake,
    };
    let app = web::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let stop_http = CancellationToken::new();
    let stopping = stop_http.clone();
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stopping.cancelled_owned()).await {
            warn!("the HTTP server stopped: {e}");
        }
    });
    info!(%addr, backend = ?store.backend(), database = %store::redact_url(&config.database_url), %instance, "zhiban is serving");
    let grace = Duration::from_millis(config.server.shutdown_grace.as_millis().max(0) as u64);
    Ok(Running { addr, store, instance, stop_http, stop_engine, server, intake_workers, loops, grace })
}

impl Running {
    /// Stop taking requests, let those in flight finish (their reports are committed), then stop
    /// the engine loops (deliveries already started are finished).
    pub async fn shutdown(self) {
        info!("shutting down");
        self.stop_http.cancel();
        let deadline = tokio::time::Instant::now() + self.grace;
        let mut server = self.server;
        if tokio::time::timeout_at(deadline, &mut server).await.is_err() {
            warn!("requests still running after the grace period; stopping them");
            server.abort();
        }
        // The server owned the last intake handles: the workers finish the queue and end.
        for worker in self.intake_workers {
            let _ = tokio::time::timeout_at(deadline, worker).await;
        }
        self.stop_engine.cancel();
        for task in self.loops {
            let _ = tokio::time::timeout_at(deadline, task).await;
        }
        info!("stopped");
    }
}
