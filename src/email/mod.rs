//! Email (邮件): court staff still mail faults to the O&M team's mailbox, often from Chinese mail
//! systems in GBK. Each configured mailbox is read over IMAP ([`poller`]); each mail becomes a
//! report, a comment on the ticket it answers, or nothing, exactly once ([`intake`]); reporters
//! get an answer with the ticket number and mails as it moves on ([`notices`]); pages and reports
//! go out by SMTP ([`sink`], [`outgoing`]). Parsing and composing live in
//! `zhiban_integrations::email`.

pub mod intake;
pub mod notices;
pub mod outgoing;
pub mod poller;
pub mod sink;
