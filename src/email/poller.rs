//! Reading a mailbox: one instance at a time (a lease per mailbox), the mails after the last UID
//! taken under the mailbox's UIDVALIDITY (on the very first read: the unseen ones), each taken
//! ([`super::intake::take`]) and committed before it is moved to the processed folder or flagged
//! \Seen. IDLE where the server offers it, else polling; reconnects with backoff.

use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument as _, info, info_span, warn};
use zhiban_integrations::email::imap::{ImapError, ImapSession, ImapSettings};

use super::intake::{self, MailRef};
use crate::config::email::MailboxConfig;
use crate::engine::IncidentService;
use crate::engine::timers::sleep_or_cancel;

pub struct MailboxLoop {
    pub service: Arc<IncidentService>,
    pub mailbox: MailboxConfig,
    pub instance: String,
}

/// Why a round with the server ended.
enum RoundEnd {
    Cancelled,
    LostLease,
    Imap(ImapError),
    /// The database was away: the mail stays on the server for the next round.
    Store(String),
}

fn std_duration(d: SignedDuration) -> Duration {
    Duration::from_millis(d.as_millis().max(0) as u64)
}

impl MailboxLoop {
    fn settings(&self) -> ImapSettings {
        let s = &self.mailbox.server;
        ImapSettings {
            host: s.host.clone(),
            port: s.port,
            security: s.security,
            user: s.user.clone().unwrap_or_default(),
            password: s.password.as_ref().map(|p| p.expose().to_string()).unwrap_or_default(),
            mailbox: self.mailbox.folder.clone(),
            ca_file: s.ca_file.clone(),
            timeout: std_duration(s.timeout),
        }
    }

    fn lease_name(&self) -> String {
        format!("mail:{}", self.mailbox.name)
    }

    fn lease_ttl(&self) -> SignedDuration {
        self.mailbox.poll_interval * 3 + SignedDuration::from_secs(30)
    }

    async fn holds_lease(&self) -> bool {
        let now = self.service.now();
        match self.service.store().try_lease(&self.lease_name(), &self.instance, now, self.lease_ttl()).await
        {
            Ok(held) => held,
            Err(e) => {
                warn!("taking the mailbox lease failed: {e}");
                false
            }
        }
    }

    pub async fn run(self, cancel: CancellationToken) {
        let span = info_span!("mailbox", name = %self.mailbox.name);
        async move {
            let poll = std_duration(self.mailbox.poll_interval);
            let mut backoff = Duration::from_secs(1);
            let mut leading = false;
            loop {
                if cancel.is_cancelled() {
                    break;
                }
                if !self.holds_lease().await {
                    leading = false;
                    if sleep_or_cancel(poll, &cancel).await {
                        break;
                    }
                    continue;
                }
                if !leading {
                    info!(instance = %self.instance, "this instance reads the mailbox");
                    leading = true;
                }
                let session = match ImapSession::connect(&self.settings()).await {
                    Ok(s) => s,
                    Err(e) => {
                        warn!("connecting to the mailbox failed: {e}");
                        if sleep_or_cancel(backoff, &cancel).await {
                            break;
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(300));
                        continue;
                    }
                };
                match self.rounds(session, &cancel).await {
                    RoundEnd::Cancelled => break,
                    RoundEnd::LostLease => {
                        leading = false;
                        continue;
                    }
                    RoundEnd::Imap(e) => warn!("the mailbox connection failed: {e}"),
                    RoundEnd::Store(e) => warn!("mail could not be taken now: {e}"),
                }
                if sleep_or_cancel(backoff, &cancel).await {
                    break;
                }
                backoff = (backoff * 2).min(Duration::from_secs(300));
            }
            if leading {
                let _ = self.service.store().release_lease(&self.lease_name(), &self.instance).await;
            }
        }
        .instrument(span)
        .await
    }

    /// Take new mail, wait (IDLE or sleep), again, on one connection.
    async fn rounds(&self, mut session: ImapSession, cancel: &CancellationToken) -> RoundEnd {
        let poll = std_duration(self.mailbox.poll_interval);
        loop {
            if let Err(end) = self.take_new(&mut session).await {
                session.logout().await;
                return end;
            }
            if !self.holds_lease().await {
                session.logout().await;
                return RoundEnd::LostLease;
            }
            if self.mailbox.idle && session.supports_idle() {
                tokio::select! {
                    _ = cancel.cancelled() => return RoundEnd::Cancelled,
                    r = session.idle(poll) => match r {
                        Ok((s, _woke)) => session = s,
                        Err(e) => return RoundEnd::Imap(e),
                    },
                }
            } else if sleep_or_cancel(poll, cancel).await {
                session.logout().await;
                return RoundEnd::Cancelled;
            }
        }
    }

    async fn take_new(&self, session: &mut ImapSession) -> Result<(), RoundEnd> {
        let store = self.service.store();
        let name = &self.mailbox.name;
        let uidvalidity = session.uid_validity();
        let last =
            store.mail_last_uid(name, uidvalidity).await.map_err(|e| RoundEnd::Store(e.to_string()))?;
        let uids = match last {
            Some(uid) => session.uids_after(uid).await,
            // Never read under this UIDVALIDITY: what nobody has read yet, not the whole archive.
            None => session.unseen().await,
        }
        .map_err(RoundEnd::Imap)?;
        for uid in uids {
            // A long first read must not outlive the lease: another instance would take the same mail.
            if !self.holds_lease().await {
                return Err(RoundEnd::LostLease);
            }
            let Some(raw) = session.fetch(uid).await.map_err(RoundEnd::Imap)? else { continue };
            let at = MailRef { mailbox: &self.mailbox, uidvalidity, uid };
            intake::take(&self.service, at, &raw).await.map_err(|e| RoundEnd::Store(e.to_string()))?;
            // Committed: now the server may forget it. If this fails, the record keeps it taken.
            let marked = match &self.mailbox.processed_folder {
                Some(folder) => session.move_to(uid, folder).await,
                None => session.mark_seen(uid).await,
            };
            marked.map_err(RoundEnd::Imap)?;
        }
        Ok(())
    }
}
