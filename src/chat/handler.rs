//! What the bot does with what people write and press, for every IM: binding an account, reports
//! (guided in a private chat), the command language of `zhiban-commands`, and the buttons of pages
//! and questions. Answers go out through the outbox, keyed by the update, so that handling an
//! update twice (after a crash) never answers twice; the actions themselves are idempotent through
//! the incident's own rules (a second acknowledgement is refused politely).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use jiff::Timestamp;
use minijinja::context;
use tracing::{Instrument as _, info, info_span, warn};
use zhiban_commands::{Command, DrillAction, Lang, ParseContext, TicketRef};
use zhiban_integrations::chat::{
    Attachment, Button, ButtonPress, ChatEvent, ChatId, ChatKind, ChatUpdate, IncomingMessage, Provider,
};

use super::guided::{self, Answer, GuidedReport, Known, Question};
use super::identity;
use super::outgoing::{self, ChatOutgoing};
use super::sink::{ChatApi, page_buttons};
use crate::config::{Config, Language, Permission, Person};
use crate::domain::classify::ClassifyInput;
use crate::domain::{Action, Actor, Channel, Incident, IncidentId, PersonId, Severity, Status, TicketNo};
use crate::engine::answers::{person_by_name, refusal, short_title};
use crate::engine::classify::{
    MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS, Report, clean_text, reason_texts, reported_fault,
};
use crate::engine::{ActError, Disposition, IncidentService};
use crate::messages::{Messages, Section};
use crate::store::chat::PostKind;
use crate::store::{IncidentFilter, NewOutboxMessage, StoreError};

/// How many systems or units are offered as buttons; more can be typed.
const MAX_CHOICES: usize = 8;
/// How many open incidents `状态` lists.
const STATUS_LISTED: usize = 10;
/// Telegram shows at most 200 characters in a button press's answer.
const MAX_ANSWER_CHARS: usize = 190;

/// Handles chat updates for every provider.
pub struct ChatHandler {
    service: Arc<IncidentService>,
    apis: HashMap<Provider, Arc<dyn ChatApi>>,
    /// Each bot's own username, once the provider told it: `/cmd@other_bot` is for another bot.
    bot_names: RwLock<HashMap<Provider, String>>,
}

/// The answers to one update, queued together after it is handled.
struct Answers {
    provider: Provider,
    update: i64,
    now: Timestamp,
    out: Vec<(ChatOutgoing, Option<IncidentId>)>,
}

impl Answers {
    fn reply(&mut self, chat: &ChatId, text: String) {
        self.reply_with(chat, text, None, Vec::new(), None);
    }

    fn reply_with(
        &mut self,
        chat: &ChatId,
        text: String,
        reply_to: Option<&str>,
        buttons: Vec<Vec<Button>>,
        incident: Option<IncidentId>,
    ) {
        let out = ChatOutgoing::Reply {
            chat: chat.clone(),
            text,
            reply_to: reply_to.map(str::to_string),
            buttons,
            incident: incident.map(|i| i.0),
        };
        self.out.push((out, incident));
    }

    fn answer(&mut self, press: &str, text: String) {
        let text: String = text.chars().take(MAX_ANSWER_CHARS).collect();
        self.out.push((ChatOutgoing::Answer { press: press.to_string(), text: Some(text) }, None));
    }

    fn into_messages(self) -> Vec<NewOutboxMessage> {
        let (provider, update, now) = (self.provider, self.update, self.now);
        self.out
            .into_iter()
            .enumerate()
            .map(|(n, (out, incident))| {
                let key = format!("chat:{}:update:{update}:{n}", provider.as_str());
                outgoing::message(provider, key, incident, &out, now)
            })
            .collect()
    }
}

/// Who wrote, as far as the catalogue knows.
struct Sender<'c> {
    person: Option<&'c Person>,
}

impl Sender<'_> {
    fn id(&self) -> Option<PersonId> {
        self.person.map(|p| PersonId(p.id.clone()))
    }
}

impl ChatHandler {
    pub fn new(service: Arc<IncidentService>, apis: HashMap<Provider, Arc<dyn ChatApi>>) -> ChatHandler {
        ChatHandler { service, apis, bot_names: RwLock::default() }
    }

    pub fn set_bot_name(&self, provider: Provider, name: String) {
        self.bot_names.write().expect("bot names lock").insert(provider, name);
    }

    fn bot_name(&self, provider: Provider) -> Option<String> {
        self.bot_names.read().expect("bot names lock").get(&provider).cloned()
    }

    fn config(&self) -> &Config {
        self.service.config()
    }

    fn m(&self) -> &Messages {
        self.service.messages()
    }

    fn lang(&self) -> Lang {
        match self.config().server.language {
            Language::ZhCn => Lang::Zh,
            Language::En => Lang::En,
        }
    }

    /// Handle one update. An error means the store could not be reached: nothing was answered,
    /// and the update should be handled again later.
    pub async fn handle(&self, provider: Provider, update: &ChatUpdate) -> Result<(), StoreError> {
        let span = info_span!("chat_update", provider = provider.as_str(), update = update.id);
        async move {
            let mut answers =
                Answers { provider, update: update.id, now: self.service.now(), out: Vec::new() };
            match &update.event {
                ChatEvent::Message(m) => {
                    // Whoever writes can be written to again (they unblocked the bot, re-added it).
                    self.service.store().chat_alive(provider, &m.chat).await?;
                    self.on_message(provider, m, &mut answers).await?
                }
                ChatEvent::Button(b) => {
                    if let Some(chat) = &b.chat {
                        self.service.store().chat_alive(provider, chat).await?;
                    }
                    self.on_button(provider, b, &mut answers).await?
                }
                ChatEvent::ChatMigrated { from, to } => {
                    info!(%from, %to, "a group moved");
                    self.service.store().chat_moved(provider, from, to).await?;
                }
                ChatEvent::Ignored { .. } => {}
            }
            let messages = answers.into_messages();
            if !messages.is_empty() {
                let mut tx = self.service.store().begin().await?;
                tx.enqueue(&messages).await?;
                tx.commit().await?;
                self.service.wake_outbox();
            }
            Ok(())
        }
        .instrument(span)
        .await
    }

    async fn on_message(
        &self,
        provider: Provider,
        m: &IncomingMessage,
        a: &mut Answers,
    ) -> Result<(), StoreError> {
        if m.from.is_bot {
            return Ok(());
        }
        let store = self.service.store();
        let text = self.without_mention(provider, &m.text);
        let session = match m.chat_kind {
            ChatKind::Private => self.session(provider, m).await?,
            ChatKind::Group => None,
        };
        // Bare digits answering a guided report's question are a phone number, not a code.
        let code = identity::code_in(&text).filter(|_| session.is_none() || identity::has_bind_prefix(&text));
        if let Some(code) = code {
            if m.chat_kind == ChatKind::Private {
                let bound = store
                    .redeem_bind_code(
                        &identity::code_hash(&code),
                        provider,
                        &m.from.id,
                        m.from.username.as_deref(),
                        a.now,
                    )
                    .await?;
                let answer = match bound.as_ref().and_then(|p| self.config().catalogue.person(&p.0)) {
                    Some(p) => {
                        info!(person = %p.id, "an IM account was bound");
                        self.m().chat("bound", context! { name => &p.name })
                    }
                    None => self.m().chat("bad_code", context! {}),
                };
                a.reply(&m.chat, answer);
                return Ok(());
            }
            if text.starts_with("绑定") || text.starts_with("/bind") {
                a.reply(&m.chat, self.m().chat("bind_hint", context! {}));
                return Ok(());
            }
        }
        // The first thing anyone sends a Telegram bot; without a code it asks what the bot does.
        if text.split_whitespace().next().is_some_and(|w| w == "/start" || w.starts_with("/start@")) {
            a.reply(&m.chat, zhiban_commands::help(self.lang(), None));
            return Ok(());
        }
        let sender = Sender { person: identity::person(store, self.config(), provider, &m.from).await? };
        let replying_to = match &m.reply_to {
            Some(reply) => store.chat_message_incident(provider, &m.chat, reply).await?,
            None => None,
        };
        let replied_incident = match replying_to {
            Some(id) => store.incident(id).await?,
            None => None,
        };
        let bot = self.bot_name(provider);
        let ctx = ParseContext {
            replying_to: replied_incident.as_ref().map(|i| ticket_ref(i.ticket)),
            bot_username: bot.as_deref(),
        };
        let parsed = zhiban_commands::parse(&text, &ctx);
        match parsed {
            Ok(Some(command)) => self.command(provider, m, &sender, command, a).await,
            Err(e) => {
                a.reply(&m.chat, e.message(self.lang()));
                Ok(())
            }
            Ok(None) if m.chat_kind == ChatKind::Group => {
                // Chat among people. A photo sent as a reply to a ticket's message joins the ticket.
                if let (Some(incident), false) = (replied_incident, m.attachments.is_empty())
                    && sender.person.is_some_and(|p| p.may(Permission::Comment))
                {
                    self.attach(provider, m, &incident, a).await?;
                }
                Ok(())
            }
            Ok(None) => match session {
                Some(report) => self.continue_report(provider, m, &sender, report, &text, a).await,
                None => self.start_report(provider, m, &sender, text.clone(), a).await,
            },
        }
    }

    /// `@zhiban_bot 确认 007` in a group: the mention is how people address the bot, not part of
    /// the command.
    fn without_mention(&self, provider: Provider, text: &str) -> String {
        let t = text.trim_start();
        if let Some(rest) = t.strip_prefix('@') {
            let (name, after) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let ours =
                self.bot_name(provider).is_none_or(|b| b.trim_start_matches('@').eq_ignore_ascii_case(name));
            if ours {
                return after.trim_start().to_string();
            }
        }
        t.to_string()
    }

    // --- Reports -----------------------------------------------------------------------------

    async fn session(
        &self,
        provider: Provider,
        m: &IncomingMessage,
    ) -> Result<Option<GuidedReport>, StoreError> {
        let store = self.service.store();
        let Some((state, updated)) = store.chat_session(provider, &m.chat, &m.from.id).await? else {
            return Ok(None);
        };
        let expired = self.service.now().duration_since(updated) > self.config().chat.guided_report_ttl;
        match serde_json::from_str::<GuidedReport>(&state) {
            Ok(report) if !expired => Ok(Some(report)),
            _ => {
                store.save_chat_session(provider, &m.chat, &m.from.id, None, self.service.now()).await?;
                Ok(None)
            }
        }
    }

    fn may_report(&self, sender: &Sender<'_>) -> bool {
        match sender.person {
            Some(p) => p.may(Permission::Comment),
            None => self.config().chat.allow_unbound_reports,
        }
    }

    /// A fault in a private chat: ask for what is missing, or open the ticket at once.
    async fn start_report(
        &self,
        provider: Provider,
        m: &IncomingMessage,
        sender: &Sender<'_>,
        text: String,
        a: &mut Answers,
    ) -> Result<(), StoreError> {
        if text.trim().is_empty() && m.attachments.is_empty() {
            return Ok(());
        }
        if !self.may_report(sender) {
            a.reply(&m.chat, self.m().chat("unbound_report_refused", context! {}));
            return Ok(());
        }
        let config = self.config();
        let c = config.classifier.classify(&ClassifyInput {
            text: &text,
            sender_severity: None,
            system_hint: None,
            unit_hint: sender.person.and_then(|p| p.unit.as_deref()),
        });
        let known = Known {
            system: c.system,
            unit: c.unit,
            reporter_unit: sender.person.and_then(|p| p.unit.clone()),
            reporter_phone: sender.person.and_then(|p| p.phone.clone()),
            systems_listed: !config.catalogue.systems.is_empty(),
            units_listed: !config.catalogue.units.is_empty(),
        };
        let report = GuidedReport::start(text, m.message_id.clone(), m.attachments.clone(), known);
        self.next_step(provider, m, sender, report, a).await
    }

    async fn continue_report(
        &self,
        provider: Provider,
        m: &IncomingMessage,
        sender: &Sender<'_>,
        mut report: GuidedReport,
        text: &str,
        a: &mut Answers,
    ) -> Result<(), StoreError> {
        let catalogue = &self.config().catalogue;
        let Some(question) = report.asking else {
            return self.next_step(provider, m, sender, report, a).await;
        };
        let answer = match question {
            Question::System => catalogue.find_system(text.trim()).map(|s| Answer::Given(s.id.clone())),
            Question::Unit => catalogue.find_unit(text.trim()).map(|u| Answer::Given(u.id.clone())),
            Question::Phone => guided::phone_in(text).map(Answer::Given),
        };
        match answer {
            Some(answer) => {
                report.answer(question, answer);
                report.attachments.extend(m.attachments.iter().cloned());
                self.next_step(provider, m, sender, report, a).await
            }
            None if question == Question::Phone => {
                a.reply_with(
                    &m.chat,
                    self.m().chat("bad_phone", context! { text => short_title(text) }),
                    None,
                    self.question_buttons(question),
                    None,
                );
                Ok(())
            }
            // Not an answer to the question: a fresh description of the fault. Ask again.
            None => {
                self.ask(&m.chat, question, a);
                Ok(())
            }
        }
    }

    /// Ask the next question and keep the report, or file it when complete.
    async fn next_step(
        &self,
        provider: Provider,
        m: &IncomingMessage,
        sender: &Sender<'_>,
        mut report: GuidedReport,
        a: &mut Answers,
    ) -> Result<(), StoreError> {
        let store = self.service.store();
        match report.ask() {
            Some(question) => {
                let state = serde_json::to_string(&report).expect("a guided report always serializes");
                store.save_chat_session(provider, &m.chat, &m.from.id, Some(&state), a.now).await?;
                self.ask(&m.chat, question, a);
                Ok(())
            }
            None => {
                let filed = Filing {
                    chat: &m.chat,
                    message_id: &report.message_id,
                    user: &m.from,
                    text: &report.text,
                    system: report.system.value().map(str::to_string),
                    unit: report.unit.value().map(str::to_string),
                    phone: report.phone.value().map(str::to_string),
                    attachments: &report.attachments,
                };
                // Ended only once filed: a retry after a failure finds the report as it was.
                self.file(provider, sender, filed, a).await?;
                store.save_chat_session(provider, &m.chat, &m.from.id, None, a.now).await
            }
        }
    }

    fn ask(&self, chat: &ChatId, question: Question, a: &mut Answers) {
        let key = match question {
            Question::System => "ask_system",
            Question::Unit => "ask_unit",
            Question::Phone => "ask_phone",
        };
        a.reply_with(chat, self.m().chat(key, context! {}), None, self.question_buttons(question), None);
    }

    fn question_buttons(&self, question: Question) -> Vec<Vec<Button>> {
        let catalogue = &self.config().catalogue;
        let names: Vec<&str> = match question {
            Question::System => catalogue.systems.iter().map(|s| s.name.as_str()).collect(),
            Question::Unit => catalogue.units.iter().map(|u| u.name.as_str()).collect(),
            Question::Phone => Vec::new(),
        };
        let tag = match question {
            Question::System => "s",
            Question::Unit => "u",
            Question::Phone => "p",
        };
        let mut rows: Vec<Vec<Button>> = names
            .iter()
            .take(MAX_CHOICES)
            .enumerate()
            .map(|(i, name)| Button { label: name.to_string(), data: format!("g:{tag}:{i}") })
            .collect::<Vec<_>>()
            .chunks(2)
            .map(<[Button]>::to_vec)
            .collect();
        rows.push(vec![
            Button { label: self.m().chat("button_skip", context! {}), data: format!("g:{tag}:skip") },
            Button { label: self.m().chat("button_cancel", context! {}), data: "g:cancel".into() },
        ]);
        rows
    }

    /// Open (or join) the ticket and answer with its number, level, reasons and deadlines.
    async fn file(
        &self,
        provider: Provider,
        sender: &Sender<'_>,
        filing: Filing<'_>,
        a: &mut Answers,
    ) -> Result<(), StoreError> {
        let config = self.config();
        let text = clean_text(filing.text, MAX_DESCRIPTION_CHARS);
        let first_line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or_default().trim();
        let title = clean_text(first_line, MAX_TITLE_CHARS.min(60));
        let c = config.classifier.classify(&ClassifyInput {
            text: &text,
            sender_severity: None,
            system_hint: filing.system.as_deref(),
            unit_hint: filing.unit.as_deref().or(sender.person.and_then(|p| p.unit.as_deref())),
        });
        let system = filing.system.or(c.system.clone());
        let unit = filing.unit.or(c.unit.clone());
        // Reports of one system at one unit are the same fault while its ticket is open.
        let fingerprint = reported_fault(system.as_deref(), unit.as_deref())
            .unwrap_or_else(|| format!("{}:{}:{}", provider.as_str(), filing.chat, filing.message_id));
        let mut labels = std::collections::BTreeMap::new();
        labels.insert("im".to_string(), provider.as_str().to_string());
        labels.insert("im_user".to_string(), display(filing.user));
        if let Some(p) = sender.person {
            labels.insert("reported_by".to_string(), p.id.clone());
        }
        if let Some(phone) = &filing.phone {
            labels.insert("contact_phone".to_string(), phone.clone());
        }
        let reasons = reason_texts(&c, config.server.language);
        let report = Report {
            source: provider.as_str().to_string(),
            fingerprint,
            occurrence_id: Some(format!("{}:{}", filing.chat, filing.message_id)),
            resolved: false,
            title: if title.is_empty() { "（图片报障）".to_string() } else { title },
            description: text,
            severity: c.severity,
            reasons: reasons.clone(),
            system,
            unit,
            labels,
            link: None,
            reporter: sender.id(),
        };
        let outcome = self.service.ingest(&[report]).await?.remove(0);
        let Some(id) = outcome.incident else { return Ok(()) };
        let Some(incident) = self.service.store().incident(id).await? else { return Ok(()) };
        let m = self.m();
        let url = self.service.incident_url(incident.ticket);
        let answer = match outcome.disposition {
            Disposition::Created | Disposition::Duplicate => {
                let sla = incident.sla.as_ref();
                m.chat(
                    "received",
                    context! {
                        ticket => incident.ticket.to_string(),
                        sev => m.severity(incident.severity),
                        system => self.service.system_name(&incident),
                        unit => incident.unit.as_deref().and_then(|u| config.catalogue.unit(u)).map(|u| u.name.clone()),
                        reasons => &reasons,
                        respond_by => sla.and_then(|s| s.respond_due).map(|t| t.to_string()),
                        resolve_by => sla.and_then(|s| s.resolve_due).map(|t| t.to_string()),
                        url,
                    },
                )
            }
            Disposition::Reopened => m.chat("reopened", context! { ticket => incident.ticket.to_string(), title => short_title(&incident.title), url }),
            _ => m.chat(
                "joined",
                context! {
                    ticket => incident.ticket.to_string(),
                    title => short_title(&incident.title),
                    occurrences => incident.occurrences,
                    status => m.status(incident.status),
                    url,
                },
            ),
        };
        self.service
            .store()
            .add_chat_message(provider, filing.chat, filing.message_id, id, PostKind::Reply, a.now)
            .await?;
        a.reply_with(filing.chat, answer, Some(filing.message_id), Vec::new(), Some(id));
        for attachment in filing.attachments {
            self.attach_one(provider, filing.chat, attachment, &incident, a).await?;
        }
        Ok(())
    }

    async fn attach(
        &self,
        provider: Provider,
        m: &IncomingMessage,
        incident: &Incident,
        a: &mut Answers,
    ) -> Result<(), StoreError> {
        for attachment in &m.attachments {
            self.attach_one(provider, &m.chat, attachment, incident, a).await?;
        }
        Ok(())
    }

    /// Fetch a file from the provider and keep it with the incident.
    async fn attach_one(
        &self,
        provider: Provider,
        chat: &ChatId,
        attachment: &Attachment,
        incident: &Incident,
        a: &mut Answers,
    ) -> Result<(), StoreError> {
        let max = self.config().chat.attachment_max_bytes;
        let m = self.m();
        if attachment.size.is_some_and(|s| s > max) {
            a.reply(chat, m.chat("attachment_too_big", context! { max }));
            return Ok(());
        }
        let Some(api) = self.apis.get(&provider) else { return Ok(()) };
        let data = match api.download(&attachment.file_id, max).await {
            Ok(data) => data,
            Err(e) => {
                warn!(ticket = %incident.ticket, "an attachment could not be fetched: {e}");
                if matches!(e, zhiban_integrations::chat::SendError::Rejected(_)) {
                    a.reply(chat, m.chat("attachment_too_big", context! { max }));
                }
                return Ok(());
            }
        };
        let name = attachment.file_name.clone().unwrap_or_else(|| {
            let ext = match attachment.mime.as_deref() {
                Some("image/jpeg") => "jpg",
                Some("image/png") => "png",
                _ => "bin",
            };
            format!("{}-{}.{ext}", incident.ticket, &attachment.file_id.chars().take(8).collect::<String>())
        });
        let source = format!("{}:{}", provider.as_str(), attachment.file_id);
        let added = self
            .service
            .store()
            .add_attachment(incident.id, &name, attachment.mime.as_deref(), &data, &source, a.now)
            .await?;
        if added {
            a.reply(
                chat,
                m.chat("attachment_saved", context! { name, ticket => incident.ticket.to_string() }),
            );
        }
        Ok(())
    }

    // --- Commands ----------------------------------------------------------------------------

    async fn command(
        &self,
        provider: Provider,
        m: &IncomingMessage,
        sender: &Sender<'_>,
        command: Command,
        a: &mut Answers,
    ) -> Result<(), StoreError> {
        let chat = &m.chat;
        let msg = self.m();
        let action = |ticket: TicketRef, action: Action| (ticket, action);
        let (ticket, act) = match command {
            Command::Help { topic } => {
                a.reply(chat, zhiban_commands::help(self.lang(), topic));
                return Ok(());
            }
            Command::Report { text } => {
                if m.chat_kind == ChatKind::Private {
                    return self.start_report(provider, m, sender, text, a).await;
                }
                if !self.may_report(sender) {
                    a.reply(chat, msg.chat("unbound_report_refused", context! {}));
                    return Ok(());
                }
                let filing = Filing {
                    chat,
                    message_id: &m.message_id,
                    user: &m.from,
                    text: &text,
                    system: None,
                    unit: None,
                    phone: None,
                    attachments: &m.attachments,
                };
                return self.file(provider, sender, filing, a).await;
            }
            Command::Oncall { .. } | Command::Status { .. }
                if !sender.person.is_some_and(|p| p.may(Permission::ReadIncidents)) =>
            {
                a.reply(chat, self.not_permitted(sender, "action_read"));
                return Ok(());
            }
            Command::Oncall { schedule } => {
                a.reply(chat, self.on_call(schedule.as_deref()));
                return Ok(());
            }
            Command::Status { ticket: None } => {
                a.reply(chat, self.status_all().await?);
                return Ok(());
            }
            Command::Status { ticket: Some(t) } => {
                match self.find(&t).await? {
                    Some(i) => a.reply_with(
                        chat,
                        super::cards::render_card(self.config(), msg, &i, a.now),
                        None,
                        Vec::new(),
                        Some(i.id),
                    ),
                    None => a.reply(chat, msg.chat("unknown_ticket", context! { ticket => t.to_string() })),
                }
                return Ok(());
            }
            Command::Handover { to, note } => {
                let Some(me) = sender.person.filter(|p| p.may(Permission::Work)) else {
                    a.reply(chat, self.not_permitted(sender, "action_handover"));
                    return Ok(());
                };
                match person_by_name(msg, Section::Chat, self.config(), &to) {
                    Ok(target) => {
                        let handed = self
                            .service
                            .hand_over(
                                &PersonId(me.id.clone()),
                                &PersonId(target.id.clone()),
                                note,
                                Channel::Im,
                            )
                            .await;
                        match handed {
                            Ok(tickets) => a.reply(chat, msg.chat("handover_done", context! { count => tickets.len(), name => &target.name })),
                            Err(ActError::Store(e)) => return Err(e),
                            Err(e) => a.reply(chat, msg.chat("failed", context! { ticket => "", action => msg.chat("action_handover", context! {}), error => e.to_string() })),
                        }
                    }
                    Err(answer) => a.reply(chat, answer),
                }
                return Ok(());
            }
            Command::Drill(action) => {
                a.reply(chat, self.drill(sender, action).await?);
                return Ok(());
            }
            Command::Swap { person, when } => {
                a.reply(chat, self.swap(sender, &person, &when).await?);
                return Ok(());
            }
            Command::Inspect { .. } => {
                a.reply(chat, msg.chat("not_available", context! { text => short_title(&m.text) }));
                return Ok(());
            }
            Command::Ack { ticket } => action(ticket, Action::Acknowledge),
            Command::Arrive { ticket } => action(ticket, Action::ArriveOnSite),
            Command::Update { ticket, text } => action(ticket, Action::Comment { text }),
            Command::Resolve { ticket, note } => action(ticket, Action::Resolve { note }),
            Command::Close { ticket, note } => action(ticket, Action::Close { note }),
            Command::Severity { ticket, level, reason } => {
                let to = Severity::from_level(i64::from(level.get())).unwrap_or(Severity::Four);
                action(ticket, Action::SetSeverity { to, reason: reason.unwrap_or_default() })
            }
            Command::Escalate { ticket, reason } => action(
                ticket,
                Action::Escalate {
                    reason: reason.unwrap_or_else(|| msg.chat("reason_decline", context! {})),
                },
            ),
        };
        let answer = self.act(sender, &ticket, act, a.now).await?;
        a.reply_with(chat, answer.text, Some(&m.message_id), Vec::new(), answer.incident);
        Ok(())
    }

    /// 演练 …: engineers, leaders and admins run drills; the lead evaluates.
    async fn drill(&self, sender: &Sender<'_>, action: DrillAction) -> Result<String, StoreError> {
        use crate::engine::drills::{self, DrillError};
        let m = self.m();
        let Some(person) =
            sender.person.filter(|p| p.may(Permission::Work) || p.may(Permission::ChangeSchedules))
        else {
            return Ok(self.not_permitted(sender, "action_drill"));
        };
        let actor = Actor::Person(PersonId(person.id.clone()));
        let service = &self.service;
        let plan_name = |run: &crate::domain::drill::DrillRun| {
            self.config().drills.get(&run.plan).map(|p| p.name.clone()).unwrap_or_else(|| run.plan.clone())
        };
        let ticket_of = |run: &crate::domain::drill::DrillRun| {
            let incident = run.incident;
            async move {
                match incident {
                    Some(id) => service.store().incident(id).await.map(|i| i.map(|i| i.ticket.to_string())),
                    None => Ok(None),
                }
            }
        };
        let result: Result<String, DrillError> = async {
            Ok(match action {
                DrillAction::Start { plan } => {
                    let run = drills::start(service, &plan, &person.id).await?;
                    m.drill("started", context! { name => plan_name(&run), ticket => ticket_of(&run).await? })
                }
                DrillAction::Pause => {
                    let run = drills::live_run(service, None).await?;
                    let run = drills::pause(service, &run, actor).await?;
                    m.drill("paused", context! { name => plan_name(&run) })
                }
                DrillAction::Resume => {
                    let run = drills::live_run(service, None).await?;
                    let run = drills::resume(service, &run, actor).await?;
                    m.drill("resumed", context! { name => plan_name(&run) })
                }
                DrillAction::Stop { plan } => {
                    let run = drills::live_run(service, plan.as_deref()).await?;
                    let run = drills::stop(service, &run, actor).await?;
                    m.drill("stopped", context! { name => plan_name(&run) })
                }
                DrillAction::Evaluate { text } => {
                    // The latest run: a drill is evaluated after it ended.
                    let run = service
                        .store()
                        .drill_runs(20)
                        .await?
                        .into_iter()
                        .find(|r| r.ended_at.is_some())
                        .ok_or(DrillError::NoneRunning)?;
                    let run =
                        drills::evaluate_run(service, &run, &PersonId(person.id.clone()), &text).await?;
                    m.drill("evaluated", context! { name => plan_name(&run) })
                }
                DrillAction::Status => match drills::live_run(service, None).await {
                    Ok(run) => m.drill(
                        "status",
                        context! {
                            name => plan_name(&run),
                            status => m.drill(&format!("status_{}", run.status.as_str()), context! {}),
                            ticket => ticket_of(&run).await?,
                            at => run.starts_at.to_string(),
                        },
                    ),
                    Err(DrillError::NoneRunning) => {
                        let plans: Vec<String> =
                            self.config().drills.all().iter().map(|p| p.name.clone()).collect();
                        m.drill("none", context! { text => plans.join("、") })
                    }
                    Err(e) => return Err(e),
                },
            })
        }
        .await;
        match result {
            Ok(text) => Ok(text),
            Err(DrillError::Store(e)) | Err(DrillError::Act(ActError::Store(e))) => Err(e),
            Err(e) => Ok(m.drill("failed", context! { error => e.to_string() })),
        }
    }

    /// 换班 by a leader or the project manager, who approve swaps: the replacement covers that
    /// day's shift (of the written part of the day) of whoever has it, recorded and audited like
    /// the API's swaps and in force at once.
    async fn swap(&self, sender: &Sender<'_>, person: &str, when: &str) -> Result<String, StoreError> {
        use super::swap::{day_bounds, matching_shifts, parse_when};
        let m = self.m();
        let Some(me) = sender.person.filter(|p| p.may(Permission::ChangeSchedules)) else {
            return Ok(self.not_permitted(sender, "action_swap"));
        };
        let replacement = match person_by_name(m, Section::Chat, self.config(), person) {
            Ok(p) => p,
            Err(answer) => return Ok(answer),
        };
        let tz = self.config().server.timezone.clone();
        let today = self.service.now().to_zoned_datetime(tz.clone()).date();
        let bad = |error: String| m.chat("swap_bad", context! { error });
        let when = match parse_when(when, today) {
            Ok(w) => w,
            Err(e) => return Ok(bad(e)),
        };
        let Some((from, until)) = day_bounds(when.day, &tz) else { return Ok(bad(when.day.to_string())) };
        let mut found = Vec::new();
        for (id, schedule) in self.config().on_call.snapshot().iter() {
            for shift in matching_shifts(&schedule.shifts(from, until), &when, &tz, &replacement.id) {
                found.push((id.clone(), schedule.name().to_string(), shift));
            }
        }
        let (schedule, schedule_name, shift) = match found.as_slice() {
            [one] => one.clone(),
            [] => return Ok(bad(m.chat("swap_no_shift", context! {}))),
            many => {
                let list: Vec<String> = many
                    .iter()
                    .map(|(_, name, s)| {
                        format!("{name} {}", self.service.person_name(&PersonId(s.person.clone())))
                    })
                    .collect();
                return Ok(bad(m.chat("swap_ambiguous", context! { shifts => list.join("、") })));
            }
        };
        let swap = crate::store::ShiftSwap {
            id: 0,
            schedule,
            person: PersonId(replacement.id.clone()),
            replaces: Some(PersonId(shift.person.clone())),
            from: shift.start,
            until: shift.end,
            requested_by: Some(PersonId(me.id.clone())),
            approved_by: PersonId(me.id.clone()),
            reason: when.reason.clone(),
            created_at: shift.start,
            cancelled_at: None,
        };
        match crate::engine::swaps::record(&self.service, swap).await {
            Ok(stored) => Ok(m.chat(
                "swap_done",
                context! {
                    name => &replacement.name,
                    replaces => self.service.person_name(&PersonId(shift.person.clone())),
                    from => stored.from.to_string(),
                    until => stored.until.to_string(),
                    schedule => schedule_name,
                },
            )),
            Err(crate::engine::swaps::SwapError::Store(e)) => Err(e),
            Err(e) => Ok(bad(e.to_string())),
        }
    }

    fn not_permitted(&self, sender: &Sender<'_>, action_key: &str) -> String {
        let action = self.m().chat(action_key, context! {});
        match sender.person {
            None => self.m().chat("unbound_refused", context! { action }),
            Some(_) => self.m().chat("no_permission", context! { action }),
        }
    }

    /// Take an action on a ticket as the sender, and say what came of it.
    async fn act(
        &self,
        sender: &Sender<'_>,
        ticket: &TicketRef,
        action: Action,
        now: Timestamp,
    ) -> Result<Acted, StoreError> {
        let msg = self.m();
        let (permission, key) = permission_of(&action);
        let Some(person) = sender.person.filter(|p| p.may(permission)) else {
            return Ok(Acted { text: self.not_permitted(sender, key), incident: None, done: false });
        };
        let Some(incident) = self.find(ticket).await? else {
            return Ok(Acted {
                text: msg.chat("unknown_ticket", context! { ticket => ticket.to_string() }),
                incident: None,
                done: false,
            });
        };
        let person_id = PersonId(person.id.clone());
        let ticket_text = incident.ticket.to_string();
        let done = match &action {
            Action::Acknowledge => msg.chat(
                "acknowledged",
                context! { ticket => &ticket_text, title => short_title(&incident.title), code => incident.ticket.seq_text() },
            ),
            Action::ArriveOnSite => msg.chat("arrived", context! { ticket => &ticket_text }),
            Action::Comment { .. } => msg.chat("updated", context! { ticket => &ticket_text }),
            Action::Resolve { .. } => msg.chat("resolved", context! { ticket => &ticket_text }),
            Action::Close { .. } => msg.chat("closed", context! { ticket => &ticket_text }),
            Action::SetSeverity { to, .. } => msg.chat("severity_set", context! { ticket => &ticket_text, sev => msg.severity(*to) }),
            Action::Escalate { .. } => msg.chat("escalated", context! { ticket => &ticket_text }),
            _ => msg.chat("declined", context! { ticket => &ticket_text }),
        };
        let _ = now;
        match self
            .service
            .act(incident.ticket, action.clone(), Actor::Person(person_id.clone()), Channel::Im)
            .await
        {
            Ok(_) => Ok(Acted { text: done, incident: Some(incident.id), done: true }),
            Err(ActError::Transition(e)) => Ok(Acted {
                text: refusal(msg, Section::Chat, self.config(), &incident, &person_id, &action, &e),
                incident: Some(incident.id),
                done: false,
            }),
            Err(ActError::NotFound(_)) => Ok(Acted {
                text: msg.chat("unknown_ticket", context! { ticket => ticket_text }),
                incident: None,
                done: false,
            }),
            Err(ActError::Store(e)) => Err(e),
        }
    }

    /// The incident a reference means: `20261124-007` exactly; `007` today's, else the newest
    /// open incident with that number.
    async fn find(&self, ticket: &TicketRef) -> Result<Option<Incident>, StoreError> {
        let store = self.service.store();
        match ticket {
            TicketRef::Full { date, seq } => {
                let Ok(day) = jiff::civil::Date::new(date.year as i16, date.month as i8, date.day as i8)
                else {
                    return Ok(None);
                };
                let Ok(number) = TicketNo::new(day, u32::from(*seq)) else { return Ok(None) };
                store.incident_by_ticket(number).await
            }
            TicketRef::Seq(seq) => {
                let today =
                    self.service.now().to_zoned_datetime(self.config().server.timezone.clone()).date();
                if let Ok(number) = TicketNo::new(today, u32::from(*seq))
                    && let Some(i) = store.incident_by_ticket(number).await?
                {
                    return Ok(Some(i));
                }
                let filter = IncidentFilter {
                    statuses: Status::OPEN.to_vec(),
                    limit: 200,
                    ..IncidentFilter::default()
                };
                Ok(store.incidents(&filter).await?.into_iter().find(|i| i.ticket.seq() == u32::from(*seq)))
            }
        }
    }

    fn on_call(&self, schedule: Option<&str>) -> String {
        let now = self.service.now();
        let snapshot = self.config().on_call.snapshot();
        let wanted = |id: &str, name: &str| {
            schedule.is_none_or(|s| {
                let s = s.trim();
                id.eq_ignore_ascii_case(s) || name.contains(s)
            })
        };
        let schedules: Vec<minijinja::Value> = snapshot
            .iter()
            .filter(|(id, s)| wanted(id, s.name()))
            .map(|(_, s)| {
                let people: Vec<String> = s
                    .on_call_at(now)
                    .into_iter()
                    .map(|o| {
                        let p = self.config().catalogue.person(&o.person);
                        match p.and_then(|p| p.phone.as_deref()) {
                            Some(phone) => format!("{} {phone}", self.service.person_name(&PersonId(o.person.clone()))),
                            None => self.service.person_name(&PersonId(o.person.clone())),
                        }
                    })
                    .collect();
                context! { name => s.name(), people => if people.is_empty() { "—".to_string() } else { people.join("、") } }
            })
            .collect();
        self.m().chat("oncall", context! { at => now.to_string(), schedules })
    }

    async fn status_all(&self) -> Result<String, StoreError> {
        let filter =
            IncidentFilter { statuses: Status::OPEN.to_vec(), limit: 500, ..IncidentFilter::default() };
        let open = self.service.store().incidents(&filter).await?;
        let m = self.m();
        let incidents: Vec<minijinja::Value> = open
            .iter()
            .take(STATUS_LISTED)
            .map(|i| {
                context! {
                    ticket => i.ticket.to_string(),
                    sev => m.severity(i.severity),
                    title => short_title(&i.title),
                    status => m.status(i.status),
                }
            })
            .collect();
        Ok(m.chat("status_all", context! { count => open.len(), incidents }))
    }

    // --- Buttons -----------------------------------------------------------------------------

    async fn on_button(
        &self,
        provider: Provider,
        b: &ButtonPress,
        a: &mut Answers,
    ) -> Result<(), StoreError> {
        let store = self.service.store();
        let sender = Sender { person: identity::person(store, self.config(), provider, &b.from).await? };
        if let Some(rest) = b.data.strip_prefix("g:") {
            return self.guided_button(provider, b, &sender, rest, a).await;
        }
        if let Some(rest) = b.data.strip_prefix("em:") {
            return self.emergency_button(b, &sender, rest, a).await;
        }
        let Some((verb, ticket)) = b.data.split_once(':') else {
            a.answer(&b.id, String::new());
            return Ok(());
        };
        let action = match verb {
            "ack" => Action::Acknowledge,
            "arr" => Action::ArriveOnSite,
            "fwd" => Action::Decline { reason: self.m().chat("reason_decline", context! {}) },
            _ => {
                a.answer(&b.id, String::new());
                return Ok(());
            }
        };
        let Some(reference) = parse_full_ticket(ticket) else {
            a.answer(&b.id, String::new());
            return Ok(());
        };
        let acted = self.act(&sender, &reference, action.clone(), a.now).await?;
        a.answer(&b.id, acted.text.clone());
        // The message with the buttons shows who did what and when, and what is left to do.
        if let (true, Some(chat), Some(message_id), Some(id), Some(person)) =
            (acted.done, &b.chat, &b.message_id, acted.incident, sender.person)
            && let Some(incident) = store.incident(id).await?
        {
            let m = self.m();
            let card = super::cards::render_card(self.config(), m, &incident, a.now);
            let action_text = crate::engine::answers::action_text(m, Section::Chat, &action);
            let text = m.chat("page_done", context! { text => card, name => &person.name, action => action_text, at => a.now.to_string() });
            let acknowledged = incident.acknowledged_at.is_some() || !incident.status.is_open();
            let on_site = matches!(incident.status, Status::OnSite) || !incident.status.is_open();
            let buttons = if matches!(action, Action::Decline { .. }) {
                Vec::new()
            } else {
                page_buttons(m, &incident.ticket.to_string(), acknowledged, on_site)
            };
            a.out.push((
                ChatOutgoing::Edit { chat: chat.clone(), message_id: message_id.clone(), text, buttons },
                Some(id),
            ));
        }
        Ok(())
    }

    /// 启动应急预案 and the checklist's steps: the message is edited to show what is done.
    async fn emergency_button(
        &self,
        b: &ButtonPress,
        sender: &Sender<'_>,
        rest: &str,
        a: &mut Answers,
    ) -> Result<(), StoreError> {
        use crate::engine::emergency::{self, EmergencyError};
        let m = self.m();
        let Some(person) =
            sender.person.filter(|p| p.may(Permission::Work) || p.may(Permission::ChangeSchedules))
        else {
            a.answer(&b.id, self.not_permitted(sender, "action_emergency"));
            return Ok(());
        };
        let by = PersonId(person.id.clone());
        let mut parts = rest.split(':');
        let (kind, id, step) = (
            parts.next(),
            parts.next().and_then(|x| x.parse::<i64>().ok()),
            parts.next().and_then(|x| x.parse::<u32>().ok()),
        );
        let result = match (kind, id, step) {
            (Some("a"), Some(id), _) => emergency::activate(&self.service, id, &by).await.map(|e| {
                let name =
                    self.config().emergency_plans.get(&e.plan).map(|p| p.name.clone()).unwrap_or_default();
                (e, m.emergency("activated", context! { name }))
            }),
            (Some("s"), Some(id), Some(n)) => emergency::step_done(&self.service, id, n, &by)
                .await
                .map(|(e, _)| (e, m.emergency("step_done", context! { n }))),
            _ => {
                a.answer(&b.id, String::new());
                return Ok(());
            }
        };
        match result {
            Ok((e, answer)) => {
                a.answer(&b.id, answer);
                // The offer or checklist message now shows the checklist as it stands.
                if let (Some(chat), Some(message_id), Some(plan)) =
                    (&b.chat, &b.message_id, self.config().emergency_plans.get(&e.plan))
                    && let Some(incident) = self.service.store().incident(e.incident).await?
                {
                    let text =
                        emergency::checklist_text(&self.service, plan, &e, &incident.ticket.to_string());
                    let buttons = emergency::checklist_buttons(plan, &e);
                    a.out.push((
                        ChatOutgoing::Edit {
                            chat: chat.clone(),
                            message_id: message_id.clone(),
                            text,
                            buttons,
                        },
                        Some(e.incident),
                    ));
                }
            }
            Err(EmergencyError::Store(e)) | Err(EmergencyError::Act(ActError::Store(e))) => return Err(e),
            Err(e) => a.answer(&b.id, m.emergency("failed", context! { error => e.to_string() })),
        }
        Ok(())
    }

    async fn guided_button(
        &self,
        provider: Provider,
        b: &ButtonPress,
        sender: &Sender<'_>,
        rest: &str,
        a: &mut Answers,
    ) -> Result<(), StoreError> {
        let store = self.service.store();
        let Some(chat) = &b.chat else {
            a.answer(&b.id, String::new());
            return Ok(());
        };
        let as_message = IncomingMessage {
            chat: chat.clone(),
            chat_kind: ChatKind::Private,
            chat_title: None,
            message_id: b.message_id.clone().unwrap_or_default(),
            from: b.from.clone(),
            text: String::new(),
            reply_to: None,
            attachments: Vec::new(),
            at: a.now,
        };
        let Some(mut report) = self.session(provider, &as_message).await? else {
            a.answer(&b.id, self.m().chat("guided_expired", context! {}));
            return Ok(());
        };
        a.answer(&b.id, String::new());
        if rest == "cancel" {
            store.save_chat_session(provider, chat, &b.from.id, None, a.now).await?;
            a.reply(chat, self.m().chat("guided_cancelled", context! {}));
            return Ok(());
        }
        let catalogue = &self.config().catalogue;
        let (question, choice) = match rest.split_once(':') {
            Some(("s", c)) => (Question::System, c),
            Some(("u", c)) => (Question::Unit, c),
            Some(("p", c)) => (Question::Phone, c),
            _ => return Ok(()),
        };
        let answer = if choice == "skip" {
            Some(Answer::Skipped)
        } else {
            let i: usize = choice.parse().unwrap_or(usize::MAX);
            match question {
                Question::System => catalogue.systems.get(i).map(|s| Answer::Given(s.id.clone())),
                Question::Unit => catalogue.units.get(i).map(|u| Answer::Given(u.id.clone())),
                Question::Phone => None,
            }
        };
        if let Some(answer) = answer {
            report.answer(question, answer);
        }
        self.next_step(provider, &as_message, sender, report, a).await
    }
}

/// What an action from chat came to.
struct Acted {
    text: String,
    incident: Option<IncidentId>,
    done: bool,
}

/// A report ready to file.
struct Filing<'a> {
    chat: &'a ChatId,
    message_id: &'a str,
    user: &'a zhiban_integrations::chat::ChatUser,
    text: &'a str,
    system: Option<String>,
    unit: Option<String>,
    phone: Option<String>,
    attachments: &'a [Attachment],
}

/// The permission an action needs and the catalogue's name for it.
fn permission_of(action: &Action) -> (Permission, &'static str) {
    match action {
        Action::Acknowledge => (Permission::Work, "action_acknowledge"),
        Action::ArriveOnSite => (Permission::Work, "action_arrive"),
        Action::Comment { .. } => (Permission::Comment, "action_comment"),
        Action::Resolve { .. } => (Permission::Work, "action_resolve"),
        Action::Close { .. } => (Permission::Work, "action_close"),
        Action::SetSeverity { .. } => (Permission::SetSeverity, "action_set_severity"),
        Action::Escalate { .. } => (Permission::Work, "action_escalate"),
        _ => (Permission::Work, "action_decline"),
    }
}

fn display(user: &zhiban_integrations::chat::ChatUser) -> String {
    match &user.username {
        Some(u) => format!("{} (@{u})", user.display_name),
        None => user.display_name.clone(),
    }
}

fn ticket_ref(t: TicketNo) -> TicketRef {
    parse_full_ticket(&t.to_string()).unwrap_or(TicketRef::Seq(t.seq().min(9999) as u16))
}

/// `20261124-007` as the command language reads it.
fn parse_full_ticket(text: &str) -> Option<TicketRef> {
    let ticket: TicketNo = text.parse().ok()?;
    let day = ticket.day();
    let date = zhiban_commands::TicketDate::new(day.year() as u16, day.month() as u8, day.day() as u8)?;
    Some(TicketRef::Full { date, seq: u16::try_from(ticket.seq()).ok()? })
}
