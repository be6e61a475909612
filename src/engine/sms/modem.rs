//! Paging through a GSM modem. One task owns the serial port: it opens and initialises the modem
//! (again after any error, with backoff), sends the texts the channel hands it, and between sends
//! reads replies from the SIM, has them handled, and only then deletes them.

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};
use tracing::{Instrument as _, info, info_span, warn};
use zhiban_integrations::sms::modem::{Modem, ModemConfig, ReceivedSms, SerialPort, open_serial};
use zhiban_integrations::sms::{PhoneNumber, SendReceipt, SmsError, SmsMessage};

use super::reply::{handle_reply, masked};
use super::{AnswerLimiter, SmsContext, delivery_error, page_phone};
use crate::engine::paging::{Delivered, PageChannel, PageMessage};
use crate::engine::sinks::DeliveryError;

const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long a page may wait for the modem task (a long text is several parts, each up to the
/// driver's send timeout).
const SEND_WAIT: Duration = Duration::from_secs(300);

struct SendJob {
    msg: SmsMessage,
    page_id: i64,
    done: oneshot::Sender<Result<SendReceipt, SmsError>>,
}

/// A page sent through the modem task.
pub struct ModemChannel {
    name: String,
    jobs: mpsc::Sender<SendJob>,
}

/// Starts the task that owns the modem at `device` and returns the channel that feeds it. The
/// task ends when `ctx.stop` is cancelled or the channel is dropped.
pub fn start(name: &str, device: &str, baud: u32, poll_every: Duration, ctx: SmsContext) -> ModemChannel {
    let (jobs, rx) = mpsc::channel(64);
    let task = ModemTask {
        device: device.to_string(),
        baud,
        poll_every,
        ctx,
        rx,
        limiter: AnswerLimiter::default(),
    };
    let span = info_span!("sms_modem", channel = %name, device = %device);
    tokio::spawn(task.run().instrument(span));
    ModemChannel { name: name.to_string(), jobs }
}

#[async_trait]
impl PageChannel for ModemChannel {
    async fn send(&self, page: &PageMessage) -> Result<Delivered, DeliveryError> {
        let span = info_span!("sms_page", page = page.page_id, incident = %page.ticket, channel = %self.name);
        async move {
            let phone = page_phone(page)?;
            let (done, answer) = oneshot::channel();
            let job = SendJob { msg: SmsMessage::new(phone, page.text.clone()), page_id: page.page_id, done };
            self.jobs.send(job).await.map_err(|_| DeliveryError::transient("the modem task has stopped"))?;
            let receipt = tokio::time::timeout(SEND_WAIT, answer)
                .await
                .map_err(|_| DeliveryError::transient("the modem did not answer in time"))?
                .map_err(|_| DeliveryError::transient("the modem task has stopped"))?
                .map_err(delivery_error)?;
            info!(provider_id = receipt.provider_id.as_deref().unwrap_or(""), "page sent by the modem");
            Ok(Delivered::Sent)
        }
        .instrument(span)
        .await
    }
}

struct ModemTask {
    device: String,
    baud: u32,
    poll_every: Duration,
    ctx: SmsContext,
    rx: mpsc::Receiver<SendJob>,
    limiter: AnswerLimiter,
}

/// Why a session with the modem ended.
enum End {
    Stop,
    Failed(SmsError),
}

enum Event {
    Stop,
    Job(Option<SendJob>),
    Indication(Result<Option<u32>, SmsError>),
}

impl ModemTask {
    async fn run(mut self) {
        let mut backoff = Duration::from_secs(1);
        loop {
            let error = match self.open().await {
                Ok(modem) => {
                    info!("the modem is ready");
                    backoff = Duration::from_secs(1);
                    match self.session(modem).await {
                        End::Stop => return,
                        End::Failed(e) => e,
                    }
                }
                Err(e) => e,
            };
            warn!("the modem failed; reopening in {}s: {error}", backoff.as_secs());
            if !self.wait(backoff).await {
                return;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn open(&self) -> Result<Modem<SerialPort>, SmsError> {
        let port = open_serial(&self.device, self.baud).map_err(|e| SmsError::Modem(format!("open: {e}")))?;
        let mut modem = Modem::new(port, ModemConfig::default());
        modem.init().await?;
        Ok(modem)
    }

    /// Sleeps while the modem is down; pages arriving meanwhile fail at once (the outbox retries
    /// them later) rather than wait. False when the task must stop.
    async fn wait(&mut self, pause: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + pause;
        loop {
            tokio::select! {
                _ = self.ctx.stop.cancelled() => return false,
                _ = tokio::time::sleep_until(deadline) => return true,
                job = self.rx.recv() => match job {
                    None => return false,
                    Some(job) => {
                        let _ = job.done.send(Err(SmsError::Modem("the modem is not available".into())));
                    }
                },
            }
        }
    }

    async fn session(&mut self, mut modem: Modem<SerialPort>) -> End {
        if let Err(e) = self.take_replies(&mut modem).await {
            return End::Failed(e);
        }
        loop {
            let event = tokio::select! {
                _ = self.ctx.stop.cancelled() => Event::Stop,
                job = self.rx.recv() => Event::Job(job),
                index = modem.wait_for_new_message(self.poll_every) => Event::Indication(index),
            };
            let result = match event {
                Event::Stop | Event::Job(None) => return End::Stop,
                Event::Job(Some(job)) => {
                    let result = modem.send(&job.msg).await;
                    if let Err(e) = &result {
                        warn!(page = job.page_id, "the modem did not send the page: {e}");
                    }
                    let failed = matches!(result, Err(SmsError::Modem(_)));
                    let error = result.as_ref().err().cloned();
                    let _ = job.done.send(result);
                    match error {
                        Some(e) if failed => Err(e),
                        _ => Ok(()),
                    }
                }
                // A new message was announced, or it is time to look anyway (an announcement
                // can be lost while the modem restarts).
                Event::Indication(Ok(_)) => self.take_replies(&mut modem).await,
                Event::Indication(Err(e)) => Err(e),
            };
            if let Err(e) = result {
                return End::Failed(e);
            }
        }
    }

    /// Reads every received message, has it handled, deletes it, then answers the sender.
    async fn take_replies(&mut self, modem: &mut Modem<SerialPort>) -> Result<(), SmsError> {
        for message in modem.receive().await? {
            let ReceivedSms { from, text, .. } = &message;
            let outcome = handle_reply(&self.ctx.service, &self.ctx.config, from, text).await;
            if outcome.retry_later() {
                // Left on the SIM: read again at the next poll.
                continue;
            }
            modem.delete_received(&message).await?;
            if PhoneNumber::parse(from).is_err() || !self.limiter.allow(from) {
                continue;
            }
            if let Err(e) = modem.send(&SmsMessage::new(from.clone(), outcome.answer)).await {
                warn!(to = %masked(from), "the answer to an SMS reply was not sent: {e}");
                if matches!(e, SmsError::Modem(_)) {
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}
