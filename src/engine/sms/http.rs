//! SMS over HTTP: an intranet gateway, Aliyun and Tencent. The integration builds and reads the
//! provider's bytes; this module fills in the page, sends the request and maps the answer.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use tracing::{Instrument as _, info, info_span};
use zhiban_integrations::sms::{HttpRequest, Method, SmsError, SmsMessage, aliyun, http_gateway, tencent};

use super::{SmsContext, delivery_error, page_phone};
use crate::config::paging::{PageField, SmsProvider};
use crate::config::{Config, Secret};
use crate::engine::paging::{Delivered, PageChannel, PageMessage};
use crate::engine::sinks::DeliveryError;

/// A page sent through an HTTP SMS provider.
pub struct HttpSmsChannel {
    pub(super) name: String,
    pub(super) provider: SmsProvider,
    pub(super) ctx: SmsContext,
}

#[async_trait]
impl PageChannel for HttpSmsChannel {
    /// Aliyun and Tencent send approved templates only: a notice cannot go through them.
    fn carries_free_text(&self) -> bool {
        matches!(self.provider, SmsProvider::Gateway { .. })
    }

    async fn send(&self, page: &PageMessage) -> Result<Delivered, DeliveryError> {
        let span = info_span!("sms_page", page = page.page_id, incident = %page.ticket, channel = %self.name);
        async move {
            let phone = page_phone(page)?;
            let msg = SmsMessage::new(phone, page.text.clone());
            let request = self.request(page, &msg).await?;
            let receipt = match &self.provider {
                SmsProvider::Gateway { gateway, .. } => {
                    let (status, body) = send(&self.ctx.http, &request).await.map_err(delivery_error)?;
                    http_gateway::interpret(gateway, status, &body)
                }
                SmsProvider::Aliyun { .. } => {
                    let (status, body) = send(&self.ctx.http, &request).await.map_err(delivery_error)?;
                    aliyun::interpret(status, &body)
                }
                SmsProvider::Tencent { .. } => {
                    let (status, body) = send(&self.ctx.http, &request).await.map_err(delivery_error)?;
                    tencent::interpret(status, &body)
                }
                SmsProvider::Modem { .. } => unreachable!("a modem channel is not an HTTP channel"),
            }
            .map_err(delivery_error)?;
            info!(provider_id = receipt.provider_id.as_deref().unwrap_or(""), "page sent by SMS");
            Ok(Delivered::Sent)
        }
        .instrument(span)
        .await
    }
}

impl HttpSmsChannel {
    async fn request(&self, page: &PageMessage, msg: &SmsMessage) -> Result<HttpRequest, DeliveryError> {
        // Signatures are checked against the provider's clock: always the real time.
        let now = jiff::Timestamp::now();
        let context = format!("page:{}", page.page_id);
        let request = match &self.provider {
            SmsProvider::Gateway { gateway, headers, .. } => gateway_request(gateway, headers, msg),
            SmsProvider::Aliyun { config, params, max_chars } => {
                let values = self.values(page).await?;
                let params: BTreeMap<String, String> = params
                    .iter()
                    .map(|(name, t)| (name.clone(), t.render(|f| values.get(f), *max_chars)))
                    .collect();
                let nonce = format!("{:032x}", rand::random::<u128>());
                aliyun::request(config, msg, &params, Some(&context), &nonce, now)
            }
            SmsProvider::Tencent { config, params, max_chars } => {
                let values = self.values(page).await?;
                let params: Vec<String> =
                    params.iter().map(|t| t.render(|f| values.get(f), *max_chars)).collect();
                tencent::request(config, msg, &params, Some(&context), now)
            }
            SmsProvider::Modem { .. } => unreachable!("a modem channel is not an HTTP channel"),
        };
        request.map_err(delivery_error)
    }

    /// What the template placeholders stand for, from the incident as it is now.
    async fn values(&self, page: &PageMessage) -> Result<PageValues, DeliveryError> {
        let incident = self
            .ctx
            .service
            .store()
            .incident(page.incident_id)
            .await
            .map_err(|e| DeliveryError::transient(format!("reading the incident: {e}")))?
            .ok_or_else(|| {
                // Notices (交接班) are no incident's page; approved templates are for pages only.
                DeliveryError::permanent(format!(
                    "{} sends approved page templates only; this message is not a page of an incident",
                    self.provider.kind()
                ))
            })?;
        let catalogue = &self.ctx.config.catalogue;
        let system =
            incident.system.as_deref().map(|s| catalogue.system(s).map(|x| x.name.as_str()).unwrap_or(s));
        let unit = incident.unit.as_deref().map(|u| catalogue.unit(u).map(|x| x.name.as_str()).unwrap_or(u));
        Ok(PageValues {
            ticket: incident.ticket.to_string(),
            code: incident.ticket.seq_text(),
            sev: self.ctx.messages.severity(incident.severity).to_string(),
            title: incident.title.clone(),
            system: system.unwrap_or_default().to_string(),
            unit: unit.unwrap_or_default().to_string(),
            link: page.link.clone().unwrap_or_else(|| page.url.clone()),
        })
    }
}

struct PageValues {
    ticket: String,
    code: String,
    sev: String,
    title: String,
    system: String,
    unit: String,
    link: String,
}

impl PageValues {
    fn get(&self, field: PageField) -> &str {
        match field {
            PageField::Ticket => &self.ticket,
            PageField::Code => &self.code,
            PageField::Sev => &self.sev,
            PageField::Title => &self.title,
            PageField::System => &self.system,
            PageField::Unit => &self.unit,
            PageField::Link => &self.link,
        }
    }
}

/// The gateway's request for a text, with the configured (possibly secret) headers.
pub(super) fn gateway_request(
    gateway: &http_gateway::GatewayConfig,
    headers: &[(String, Secret)],
    msg: &SmsMessage,
) -> Result<HttpRequest, SmsError> {
    let mut request = http_gateway::request(gateway, msg)?;
    request.headers.extend(headers.iter().map(|(n, v)| (n.clone(), v.expose().to_string())));
    Ok(request)
}

/// Sends a request exactly as built and returns the status and body. Errors never carry the URL
/// (a gateway's URL may hold a token; Aliyun's holds the signature).
pub(super) async fn send(http: &reqwest::Client, request: &HttpRequest) -> Result<(u16, Vec<u8>), SmsError> {
    let method = match request.method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
    };
    let mut builder = http.request(method, &request.url);
    for (name, value) in &request.headers {
        // reqwest sets Host from the URL, which the signature covers with the same value.
        if !name.eq_ignore_ascii_case("host") {
            builder = builder.header(name, value);
        }
    }
    if request.method == Method::Post {
        builder = builder.body(request.body.clone());
    }
    let response = builder.send().await.map_err(|e| SmsError::Transient(e.without_url().to_string()))?;
    let status = response.status().as_u16();
    let body = response.bytes().await.map_err(|e| SmsError::Transient(e.without_url().to_string()))?;
    Ok((status, body.to_vec()))
}

/// Sends the answer to an SMS reply through the gateway the reply came by, in the background
/// (the gateway's callback is answered at once). Failures are logged: an answer is a courtesy,
/// the reply itself has been recorded.
pub fn answer_through_gateway(config: &Arc<Config>, channel: &str, to: &str, text: &str) {
    let Some(SmsProvider::Gateway { gateway, headers, answer_replies: true }) =
        config.paging.channels.iter().find(|c| c.name == channel).and_then(|c| match &c.kind {
            crate::config::PageChannelKind::Sms(sms) => Some(&sms.provider),
            _ => None,
        })
    else {
        return;
    };
    if !super::answers_allowed(&format!("{channel}|{}", gateway.url), to) {
        return;
    }
    let request = match gateway_request(gateway, headers, &SmsMessage::new(to, text)) {
        Ok(r) => r,
        Err(e) => {
            info!(channel, "no SMS answer sent: {e}");
            return;
        }
    };
    let gateway = gateway.clone();
    let channel = channel.to_string();
    tokio::spawn(
        async move {
            let result = match send(super::answer_client(), &request).await {
                Ok((status, body)) => http_gateway::interpret(&gateway, status, &body).map(drop),
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => info!("SMS answer sent"),
                Err(e) => tracing::warn!("the SMS answer was not sent: {e}"),
            }
        }
        .instrument(info_span!("sms_answer", channel = %channel)),
    );
}
