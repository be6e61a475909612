//! Delivering pages (呼叫). A page is a row; its outbox message (sink [`PAGING_SINK`]) wakes this
//! sink at the page's due time, which renders the text and hands it to the page's channel. A
//! page stopped meanwhile (someone acknowledged) is skipped. A page that cannot be delivered at
//! all fails over to the person's next channel.
//!
//! Channels plug in through [`PageChannel`]: each IM, SMS and email integration implements it.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use tracing::{info, warn};

use super::clock::Clock;
use super::sinks::{DeliveryError, Sink, post_json};
pub use super::writeset::PAGING_SINK;
use crate::config::catalogue::ImAccounts;
use crate::config::{Config, PageChannelConfig, PageChannelKind, Secret};
use crate::domain::action_link::{self, LinkClaims};
use crate::domain::escalation::PageReason;
use crate::domain::{Incident, IncidentId, PersonId, Severity};
use crate::messages::{Messages, PageView};
use crate::store::{NewOutboxMessage, NewPage, OutboxMessage, Page, PageStatus, SharedStore, StoreError};
use zhiban_integrations::sms::reply::reply_hint;

/// One page, rendered, addressed to one person.
#[derive(Debug, Clone, Serialize)]
pub struct PageMessage {
    pub page_id: i64,
    pub incident_id: IncidentId,
    pub ticket: String,
    pub severity: Severity,
    pub person: PersonId,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub im: ImAccounts,
    pub subject: String,
    pub text: String,
    /// The signed action link (确认 / 到场 / 转派), when links are configured.
    pub link: Option<String>,
    pub url: String,
    pub drill: bool,
}

/// How far a channel got with a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// Handed over (an SMS gateway or mail server accepted it).
    Sent,
    /// Shown to the person (an IM message was posted to them).
    Delivered,
}

/// A way to reach a person: IM, SMS, email, a site's own gateway.
#[async_trait]
pub trait PageChannel: Send + Sync {
    /// Deliver one page. The same page may be offered again after a failure or a crash; use
    /// `page_id` as the idempotency key where the provider takes one.
    async fn send(&self, page: &PageMessage) -> Result<Delivered, DeliveryError>;

    /// Whether the channel can carry any text (a notice such as 交接班), not only pages fitted into
    /// a provider's approved template.
    fn carries_free_text(&self) -> bool {
        true
    }
}

/// Writes pages to the log.
pub struct LogChannel {
    name: String,
}

#[async_trait]
impl PageChannel for LogChannel {
    async fn send(&self, page: &PageMessage) -> Result<Delivered, DeliveryError> {
        info!(target: "zhiban::page", channel = %self.name, person = %page.person, page = page.page_id, "{}", page.text);
        Ok(Delivered::Sent)
    }
}

/// POSTs each page as JSON (`PageMessage`) to a notification gateway.
pub struct WebhookChannel {
    url: String,
    secret: Option<Secret>,
    http: reqwest::Client,
}

#[async_trait]
impl PageChannel for WebhookChannel {
    async fn send(&self, page: &PageMessage) -> Result<Delivered, DeliveryError> {
        let payload = serde_json::to_value(page).expect("a page always serializes");
        post_json(&self.http, &self.url, self.secret.as_ref(), &format!("page:{}", page.page_id), &payload)
            .await?;
        Ok(Delivered::Sent)
    }
}

/// The channel a configuration entry describes. SMS channels need more of zhiban (see
/// [`super::sms::SmsContext`]); a modem channel starts its task here.
pub fn build_channel(
    config: &PageChannelConfig,
    http: &reqwest::Client,
    sms: &super::sms::SmsContext,
    chats: &HashMap<zhiban_integrations::chat::Provider, crate::chat::sink::ChatContext>,
    mailer: Option<&crate::email::sink::Mailer>,
) -> Box<dyn PageChannel> {
    let chat = |provider| match chats.get(&provider) {
        Some(ctx) => {
            Box::new(crate::chat::sink::ChatPageChannel { ctx: ctx.clone() }) as Box<dyn PageChannel>
        }
        // Configuration refuses an IM channel without its section; never reached.
        None => Box::new(LogChannel { name: config.name.clone() }),
    };
    match &config.kind {
        PageChannelKind::Log => Box::new(LogChannel { name: config.name.clone() }),
        PageChannelKind::Webhook { url, secret } => {
            Box::new(WebhookChannel { url: url.clone(), secret: secret.clone(), http: http.clone() })
        }
        PageChannelKind::Sms(sms_config) => super::sms::build(&config.name, sms_config, sms),
        PageChannelKind::Telegram => chat(zhiban_integrations::chat::Provider::Telegram),
        PageChannelKind::Im(provider) => chat(*provider),
        PageChannelKind::Email => match mailer {
            Some(m) => Box::new(crate::email::sink::MailPageChannel { mailer: m.clone() }),
            // Configuration refuses an email channel without [email.smtp]; never reached.
            None => Box::new(LogChannel { name: config.name.clone() }),
        },
    }
}

/// The outbox sink that delivers pages through their channels.
pub struct PagingSink {
    pub store: SharedStore,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<Config>,
    pub messages: Arc<Messages>,
    pub channels: HashMap<String, Box<dyn PageChannel>>,
}

fn unavailable(e: StoreError) -> DeliveryError {
    DeliveryError::transient(format!("reading the page: {e}"))
}

impl PagingSink {
    fn page_id(m: &OutboxMessage) -> Result<i64, DeliveryError> {
        m.payload.get("page").and_then(|v| v.as_i64()).ok_or_else(|| DeliveryError::permanent("no page id"))
    }

    /// The page as its person reads it.
    pub fn render(&self, page: &Page, incident: &Incident) -> PageMessage {
        let person = self.config.catalogue.person(&page.person.0);
        let url = format!("{}/incidents/{}", self.config.server.public_url, incident.ticket);
        let link = self.config.paging.link_secret.as_ref().map(|secret| {
            let claims =
                LinkClaims { page: page.id, expires: self.clock.now() + self.config.paging.link_ttl };
            format!(
                "{}/a/{}",
                self.config.server.public_url,
                action_link::sign(secret.expose().as_bytes(), claims)
            )
        });
        let system = incident
            .system
            .as_deref()
            .map(|s| self.config.catalogue.system(s).map(|x| x.name.as_str()).unwrap_or(s));
        let unit = incident
            .unit
            .as_deref()
            .map(|u| self.config.catalogue.unit(u).map(|x| x.name.as_str()).unwrap_or(u));
        let tier = match &page.reason {
            PageReason::Tier { tier, .. } | PageReason::Manual { tier, .. } => Some(tier + 1),
            _ => None,
        };
        let view = PageView {
            drill: incident.is_drill(),
            sev: self.messages.severity(incident.severity),
            ticket: incident.ticket.to_string(),
            title: &incident.title,
            system,
            unit,
            tier,
            link: link.clone(),
            reply: reply_hint(&incident.ticket.seq_text()),
            storm: incident.escalation.as_ref().and_then(|e| e.storm),
            reminder: match &page.reason {
                PageReason::Reminder { about, .. } => {
                    Some(self.messages.page_label(about.as_str()).to_string())
                }
                _ => None,
            },
            url: url.clone(),
        };
        let (subject, text) = self.messages.page_text(&view);
        PageMessage {
            page_id: page.id,
            incident_id: incident.id,
            ticket: incident.ticket.to_string(),
            severity: incident.severity,
            person: page.person.clone(),
            name: person.map(|p| p.name.clone()).unwrap_or_else(|| page.person.0.clone()),
            phone: person.and_then(|p| p.phone.clone()),
            email: person.and_then(|p| p.email.clone()),
            im: person.map(|p| p.im.clone()).unwrap_or_default(),
            subject,
            text,
            link,
            url,
            drill: incident.is_drill(),
        }
    }

    /// A notice to one person that is not a page (交接班): through their first channel, with no
    /// acknowledgement and no escalation.
    async fn deliver_notice(&self, notice: &serde_json::Value) -> Result<(), DeliveryError> {
        let field = |k: &str| notice.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let person_id = PersonId(field("person"));
        let Some(book) = self.config.paging.book.as_deref() else { return Ok(()) };
        let rules = book.directory.notify_rules(&person_id);
        // The person's first channel that can say what the notice says.
        let channel =
            rules.iter().filter_map(|r| self.channels.get(&r.channel)).find(|c| c.carries_free_text());
        let Some(channel) = channel else {
            warn!(person = %person_id, "no channel of this person carries free text; the notice is not sent");
            return Ok(());
        };
        let person = self.config.catalogue.person(&person_id.0);
        let message = PageMessage {
            page_id: 0,
            incident_id: IncidentId(0),
            ticket: String::new(),
            severity: Severity::Four,
            name: person.map(|p| p.name.clone()).unwrap_or_else(|| person_id.0.clone()),
            phone: person.and_then(|p| p.phone.clone()),
            email: person.and_then(|p| p.email.clone()),
            im: person.map(|p| p.im.clone()).unwrap_or_default(),
            person: person_id,
            subject: field("subject"),
            text: field("text"),
            link: None,
            url: self.config.server.public_url.clone(),
            drill: false,
        };
        channel.send(&message).await.map(|_| ())
    }

    /// Whether a person may be paged for this incident: anyone for a real one; for a drill, only
    /// the plan's participants (as they resolve now) and its lead.
    fn takes_part(&self, incident: &Incident, person: &PersonId) -> bool {
        let Some(plan_id) = incident.labels.get(crate::domain::drill::PLAN_LABEL) else {
            return !incident.is_drill();
        };
        let (Some(plan), Some(book)) = (self.config.drills.get(plan_id), self.config.paging.book.as_deref())
        else {
            return false;
        };
        let now = self.clock.now();
        plan.lead.as_ref() == Some(person)
            || plan.tiers.iter().any(|t| book.resolve(&t.targets, now).contains(person))
    }

    /// After a page failed for good: the person's next channel, at once.
    async fn fail_over(&self, page: &Page, error: &str) -> Result<(), StoreError> {
        let now = self.clock.now();
        self.store.page_result(page.id, PageStatus::Failed, now, Some(error)).await?;
        let Some(book) = self.config.paging.book.as_deref() else { return Ok(()) };
        let mut tx = self.store.begin().await?;
        let Some(incident) = tx.lock_incidents(&[page.incident_id]).await?.pop() else { return Ok(()) };
        // A page of the escalation matters until someone acknowledges; one that hands the
        // incident to a person (转派, 升级 by hand) until it is resolved.
        let still_needed = match page.reason {
            PageReason::Tier { .. } | PageReason::AtOnce { .. } => incident.status.awaits_ack(),
            PageReason::Reassigned { .. }
            | PageReason::Manual { .. }
            | PageReason::Reminder { .. }
            | PageReason::Group { .. } => incident.status.is_open(),
        };
        if !still_needed {
            return Ok(());
        }
        let rules = book.directory.notify_rules(&page.person);
        let Some(next) = rules
            .iter()
            .filter(|r| r.applies_to(incident.severity))
            .skip_while(|r| r.channel != page.channel)
            .find(|r| r.channel != page.channel)
        else {
            warn!(page = page.id, person = %page.person, "the page failed on the person's last channel");
            return Ok(());
        };
        let new = NewPage {
            incident_id: page.incident_id,
            page_key: format!("{}:failover:{}", page.page_key, next.channel),
            person: page.person.clone(),
            channel: next.channel.clone(),
            reason: page.reason.clone(),
            due_at: now,
        };
        if let Some(Some(id)) = tx.insert_pages(std::slice::from_ref(&new), now).await?.pop() {
            tx.enqueue(&[NewOutboxMessage {
                idempotency_key: format!("page:{id}"),
                incident_id: Some(page.incident_id),
                sink: PAGING_SINK.to_string(),
                payload: serde_json::json!({ "page": id }),
                not_before: now,
            }])
            .await?;
        }
        tx.commit().await
    }
}

#[async_trait]
impl Sink for PagingSink {
    async fn deliver(&self, m: &OutboxMessage) -> Result<(), DeliveryError> {
        if let Some(notice) = m.payload.get("notice") {
            return self.deliver_notice(notice).await;
        }
        let id = Self::page_id(m)?;
        let Some(page) = self.store.page(id).await.map_err(unavailable)? else {
            return Err(DeliveryError::permanent(format!("page {id} does not exist")));
        };
        // Stopped (acknowledged first) or already done by an earlier attempt.
        if page.status != PageStatus::Queued {
            return Ok(());
        }
        let Some(incident) = self.store.incident(page.incident_id).await.map_err(unavailable)? else {
            return Err(DeliveryError::permanent(format!("page {id}: its incident is gone")));
        };
        if !incident.status.is_open() {
            // Resolved or ended meanwhile: nobody needs waking for it any more.
            self.store
                .page_result(id, PageStatus::Cancelled, self.clock.now(), None)
                .await
                .map_err(unavailable)?;
            return Ok(());
        }
        if !self.takes_part(&incident, &page.person) {
            // A drill never wakes anyone outside its plan, whatever asked for the page.
            warn!(page = id, person = %page.person, "a drill page to someone outside the plan was not sent");
            self.store
                .page_result(id, PageStatus::Cancelled, self.clock.now(), Some("outside the drill plan"))
                .await
                .map_err(unavailable)?;
            return Ok(());
        }
        let Some(channel) = self.channels.get(&page.channel) else {
            let error = format!("no paging channel is named '{}'", page.channel);
            let _ = self.fail_over(&page, &error).await;
            return Err(DeliveryError::permanent(error));
        };
        let message = self.render(&page, &incident);
        let result = channel.send(&message).await?;
        let status = match result {
            Delivered::Sent => PageStatus::Sent,
            Delivered::Delivered => PageStatus::Delivered,
        };
        self.store.page_result(id, status, self.clock.now(), None).await.map_err(unavailable)?;
        Ok(())
    }

    async fn gave_up(&self, m: &OutboxMessage, error: &str) {
        let Ok(id) = Self::page_id(m) else { return };
        match self.store.page(id).await {
            Ok(Some(page)) if page.status == PageStatus::Queued => {
                if let Err(e) = self.fail_over(&page, error).await {
                    warn!(page = id, "failing over to the next channel failed: {e}");
                }
            }
            Ok(_) => {}
            Err(e) => warn!(page = id, "reading a failed page: {e}"),
        }
    }
}
