//! Sending mail: the outbox sink `email` (answers, state changes, reports) and the page channel
//! (a page as HTML and plain text, with the signed action link), both through the configured
//! SMTP relay.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use minijinja::context;
use zhiban_integrations::email::smtp::{SmtpError, SmtpSender, SmtpSettings};
use zhiban_integrations::email::{
    MailAttachment, Mailbox, OutgoingMail, compose, new_message_id, subject_tag,
};

use super::outgoing::MailOut;
use crate::config::Config;
use crate::config::email::{EmailConfig, ServerConfig, split_address};
use crate::domain::IncidentId;
use crate::engine::Clock;
use crate::engine::paging::{Delivered, PageChannel, PageMessage};
use crate::engine::sinks::{DeliveryError, Sink};
use crate::messages::Messages;
use crate::store::{OutboxMessage, SharedStore};

/// The relay's settings in the transport's terms.
pub fn smtp_settings(s: &ServerConfig) -> SmtpSettings {
    SmtpSettings {
        host: s.host.clone(),
        port: s.port,
        security: s.security,
        user: s.user.clone(),
        password: s.password.as_ref().map(|p| p.expose().to_string()),
        ca_file: s.ca_file.clone(),
        timeout: Duration::from_millis(s.timeout.as_millis().max(1) as u64),
        hello_name: None,
    }
}

/// The Message-ID of the mail that carried page `page_id` to `person` (stable: a resend is the
/// same mail), so an answer to it can be recognised.
pub fn page_message_id(config: &Config, page_id: i64, person: &crate::domain::PersonId) -> String {
    new_message_id(&mail_domain(config), &page_seed(page_id, person))
}

fn page_seed(page_id: i64, person: &crate::domain::PersonId) -> String {
    format!("page:{page_id}:{person}")
}

fn mail_domain(config: &Config) -> String {
    let from = config.email.as_ref().map(|e| e.from_address.as_str()).unwrap_or_default();
    from.rsplit_once('@').map_or("zhiban.invalid", |(_, d)| d).to_string()
}

/// Everything that sends mail needs.
#[derive(Clone)]
pub struct Mailer {
    pub sender: Arc<SmtpSender>,
    pub store: SharedStore,
    pub config: Arc<Config>,
    pub messages: Arc<Messages>,
    pub clock: Arc<dyn Clock>,
}

fn delivery_error(e: SmtpError) -> DeliveryError {
    if e.is_permanent() {
        DeliveryError::permanent(e.to_string())
    } else {
        DeliveryError::transient(e.to_string())
    }
}

fn mailbox(text: &str) -> Result<Mailbox, DeliveryError> {
    let (name, address) = split_address(text)
        .ok_or_else(|| DeliveryError::permanent(format!("'{text}' is not an email address")))?;
    Ok(Mailbox::new(name.as_deref(), &address))
}

impl Mailer {
    fn email(&self) -> Result<&EmailConfig, DeliveryError> {
        self.config.email.as_ref().ok_or_else(|| DeliveryError::permanent("email is not configured"))
    }

    fn from(&self) -> Result<Mailbox, DeliveryError> {
        let e = self.email()?;
        Ok(Mailbox::new(e.from_name.as_deref(), &e.from_address))
    }

    /// Compose and send one mail; returns its message id.
    pub async fn send(&self, out: &MailOut) -> Result<String, DeliveryError> {
        self.email()?;
        let message_id = new_message_id(&mail_domain(&self.config), &out.seed);
        let mut attachments = Vec::new();
        for a in &out.attachments {
            let data = base64::engine::general_purpose::STANDARD
                .decode(&a.data)
                .map_err(|e| DeliveryError::permanent(format!("attachment {}: {e}", a.name)))?;
            attachments.push(MailAttachment { name: a.name.clone(), mime: a.mime.clone(), data });
        }
        let mail = OutgoingMail {
            from: self.from()?,
            to: out.to.iter().map(|t| mailbox(t)).collect::<Result<_, _>>()?,
            cc: Vec::new(),
            subject: out.subject.clone(),
            text: out.text.clone(),
            html: out.html.clone(),
            in_reply_to: out.in_reply_to.clone(),
            references: out.references.clone(),
            message_id: message_id.clone(),
            attachments,
            auto_submitted: true,
            date: None,
        };
        let message = compose(&mail).map_err(|e| DeliveryError::permanent(e.to_string()))?;
        self.sender.send(message).await.map_err(delivery_error)?;
        if let Some(incident) = out.incident {
            // Replies to this mail thread to its incident. The mail went out; a failure here only
            // loses the threading by message id (the subject's tag still works).
            let _ = self
                .store
                .add_mail_thread(std::slice::from_ref(&message_id), IncidentId(incident), self.clock.now())
                .await;
        }
        Ok(message_id)
    }
}

/// The outbox sink [`super::outgoing::SINK`].
pub struct MailSink {
    pub mailer: Mailer,
}

#[async_trait]
impl Sink for MailSink {
    async fn deliver(&self, m: &OutboxMessage) -> Result<(), DeliveryError> {
        let out: MailOut = serde_json::from_value(m.payload.clone())
            .map_err(|e| DeliveryError::permanent(format!("not a mail: {e}")))?;
        self.mailer.send(&out).await.map(|_| ())
    }
}

/// Pages by mail.
pub struct MailPageChannel {
    pub mailer: Mailer,
}

#[async_trait]
impl PageChannel for MailPageChannel {
    async fn send(&self, page: &PageMessage) -> Result<Delivered, DeliveryError> {
        let to = page
            .email
            .clone()
            .filter(|e| !e.trim().is_empty())
            .ok_or_else(|| DeliveryError::permanent(format!("{} has no email address", page.person)))?;
        let html = self
            .mailer
            .messages
            .email("page_html", context! { text => &page.text, link => &page.link, url => &page.url });
        let mut text = page.text.clone();
        if let Some(link) = &page.link
            && !text.contains(link.as_str())
        {
            text.push_str("\n\n");
            text.push_str(link);
        }
        let subject = if page.ticket.is_empty() || page.subject.contains(&page.ticket) {
            page.subject.clone()
        } else {
            format!("{}{}", subject_tag(&page.ticket), page.subject)
        };
        let out = MailOut {
            to: vec![format!("{} <{to}>", page.name)],
            subject,
            text,
            html: Some(html),
            in_reply_to: None,
            references: Vec::new(),
            seed: page_seed(page.page_id, &page.person),
            incident: (page.page_id != 0).then_some(page.incident_id.0),
            attachments: Vec::new(),
        };
        self.mailer.send(&out).await?;
        Ok(Delivered::Sent)
    }
}
