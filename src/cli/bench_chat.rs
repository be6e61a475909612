//! `zhiban bench chat`: what a chat message costs. The command parser and the mail parser alone
//! (per message), then whole updates through the chat handler on a fresh SQLite database —
//! identity, parsing, the incident service and the answers committed to the outbox — as updates/s
//! and latency percentiles. No IM is contacted: answers stay in the outbox.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use zhiban_commands::{ParseContext, parse};
use zhiban_integrations::chat::{
    ChatEvent, ChatId, ChatKind, ChatUpdate, ChatUser, IncomingMessage, Provider,
};
use zhiban_integrations::email::parse_mail;

use crate::chat::handler::ChatHandler;
use crate::config::Config;
use crate::engine::{IncidentService, SystemClock, Wakeups};
use crate::messages::Messages;
use crate::metrics::Metrics;

#[derive(Debug, clap::Args)]
pub struct ChatBenchArgs {
    /// The configuration whose catalogue and rules are used (its database is not touched).
    #[arg(long, short, default_value = "config/zhiban.example.toml")]
    config: PathBuf,
    /// Updates sent through the handler.
    #[arg(long, default_value_t = 2000)]
    updates: usize,
}

const MESSAGES: &[&str] = &[
    "确认 007",
    "/ack 20261124-007",
    "进展 007 已重启应用服务，观察中",
    "定级 007 一级 全院无法办案",
    "报障 统一业务系统无法登录",
    "值班",
    "帮助 确认",
    "今天打印机又卡纸了",
];

const MAILS: &[&[u8]] = &[
    include_bytes!("../../integrations/tests/mail/gbk_base64_subject.eml"),
    include_bytes!("../../integrations/tests/mail/gb2312_qp.eml"),
    include_bytes!("../../integrations/tests/mail/html_only_foxmail.eml"),
    include_bytes!("../../integrations/tests/mail/gbk_attachment_rfc2231.eml"),
];

fn per_op(total: Duration, ops: usize) -> String {
    let ns = total.as_nanos() as f64 / ops.max(1) as f64;
    if ns < 10_000.0 { format!("{ns:.0} ns") } else { format!("{:.1} µs", ns / 1000.0) }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or_default()
}

pub async fn run(a: ChatBenchArgs) -> anyhow::Result<()> {
    // 1. The command language alone.
    let ctx = ParseContext::default();
    let rounds = 20_000;
    let start = Instant::now();
    for i in 0..rounds {
        std::hint::black_box(parse(MESSAGES[i % MESSAGES.len()], &ctx).ok());
    }
    println!("command parser: {} per message ({} messages)", per_op(start.elapsed(), rounds), rounds);

    // 2. Mail parsing (GBK, GB2312, HTML-only, RFC 2231 attachment).
    let rounds = 5_000;
    let start = Instant::now();
    for i in 0..rounds {
        std::hint::black_box(parse_mail(MAILS[i % MAILS.len()]).ok());
    }
    println!("mail parser: {} per mail ({} mails)", per_op(start.elapsed(), rounds), rounds);

    // 3. Whole updates through the handler, committed.
    let dir = std::env::temp_dir().join(format!("zhiban-bench-chat-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut config =
        Config::load(&a.config, &|n| std::env::var(n).ok()).map_err(|e| anyhow::anyhow!("{e}"))?;
    config.database_url = format!("sqlite://{}", dir.join("bench.db").display());
    config.chat.allow_unbound_reports = true;
    let config = Arc::new(config);
    let store = crate::app::open_store(&config).await?;
    let messages = Arc::new(Messages::load(config.server.language, config.server.timezone.clone())?);
    let service = Arc::new(IncidentService::new(
        store,
        Arc::new(SystemClock),
        config.clone(),
        messages,
        Arc::new(Metrics::default()),
        Wakeups::default(),
    ));
    let handler = ChatHandler::new(service.clone(), HashMap::new());
    let mut latencies = Vec::with_capacity(a.updates);
    let start = Instant::now();
    for i in 0..a.updates {
        let text = MESSAGES[i % MESSAGES.len()];
        let group = !text.starts_with("今天");
        let update = ChatUpdate {
            id: i as i64,
            event: ChatEvent::Message(IncomingMessage {
                chat: ChatId(if group { "-100200".into() } else { format!("{}", 5000 + i % 50) }),
                chat_kind: if group { ChatKind::Group } else { ChatKind::Private },
                chat_title: None,
                message_id: i.to_string(),
                from: ChatUser {
                    id: format!("{}", 5000 + i % 50),
                    username: None,
                    display_name: "书记员".into(),
                    is_bot: false,
                },
                text: text.to_string(),
                reply_to: None,
                attachments: Vec::new(),
                at: service.now(),
            }),
        };
        let t = Instant::now();
        handler.handle(Provider::Telegram, &update).await?;
        latencies.push(t.elapsed());
    }
    let total = start.elapsed();
    latencies.sort();
    println!(
        "chat handler (SQLite): {} updates in {:.2} s = {:.0} updates/s; latency p50 {:?}, p99 {:?}, max {:?}",
        a.updates,
        total.as_secs_f64(),
        a.updates as f64 / total.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default(),
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
