//! SMS paging end to end, on both backends: Aliyun and Tencent fakes that check the signatures
//! as the providers do, a throttled page retried, an intranet gateway with replies coming back
//! through the inbound callback, and a GSM modem played by a fake on a real pseudo-terminal.
#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use common::*;
use serde_json::{Value, json};
use zhiban::config::Config;

const INBOUND: &str = "test-inbound-token-0001";
const ALIYUN_SECRET: &str = "test-aliyun-secret";
const TENCENT_KEY: &str = "test-tencent-secret-key";
const LONG_TITLE: &str =
    "统一业务应用系统无法登录，所有基层院均受影响，案件无法流转，请尽快处理并报告进展情况";

/// The base configuration plus a policy that pages zhangwei through `channel` only.
fn config_with(db: &TestDb, channel: &str) -> Config {
    let text = format!(
        r#"{base}
[paging]
default_policy = "default"
default_rules = [{{ channel = "sms" }}]

{channel}

[[paging.policies]]
id = "default"
name = "驻场"
[[paging.policies.tiers]]
targets = ["person:zhangwei"]
ack_timeout = "15m"
"#,
        base = config_text(&db.url, &Knobs::default()),
    );
    Config::parse(std::path::Path::new("sms.toml"), &text, &|_| None).unwrap_or_else(|e| panic!("{e}"))
}

async fn open(app: &TestApp, key: &str, title: &str) -> String {
    let body = json!({"title": title, "severity": 2, "dedup_key": key, "system": "统一业务"});
    let (status, answer) = app.webhook("generic", GENERIC_TOKEN, &body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    answer["incidents"][0]["ticket"].as_str().unwrap().to_string()
}

async fn page_statuses(app: &TestApp, ticket: &str) -> Vec<String> {
    let (status, body) = app.get(&format!("/api/v1/incidents/{ticket}/pages"), ADMIN).await;
    assert_eq!(status, 200, "{body}");
    body["pages"].as_array().unwrap().iter().map(|p| p["status"].as_str().unwrap().to_string()).collect()
}

async fn wait_status(app: &TestApp, ticket: &str, want: &str) {
    eventually(Duration::from_secs(15), &format!("{ticket} becomes {want}"), || async {
        app.incident(ticket).await["status"] == want
    })
    .await;
}

/// A fake provider: records what arrived and answers from a script (then `ok`).
#[derive(Default)]
struct Fake {
    requests: Vec<(HeaderMap, String, Bytes)>,
    script: Vec<String>,
    ok: String,
}

type Shared = Arc<Mutex<Fake>>;

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn answer(State(fake): State<Shared>, headers: HeaderMap, query: RawQuery, body: Bytes) -> String {
    let mut f = fake.lock().unwrap();
    f.requests.push((headers, query.0.unwrap_or_default(), body));
    if f.script.is_empty() { f.ok.clone() } else { f.script.remove(0) }
}

async fn fake(ok: &str, script: &[&str]) -> (String, Shared) {
    let fake = Arc::new(Mutex::new(Fake {
        ok: ok.to_string(),
        script: script.iter().map(|s| s.to_string()).collect(),
        ..Fake::default()
    }));
    let app = Router::new()
        .route("/", get(answer).post(answer))
        .route("/send", post(answer))
        .with_state(fake.clone());
    (serve(app).await, fake)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

async fn aliyun_page_carries_the_template_parameters(backend: Backend) {
    let db = TestDb::new(backend).await;
    let (url, fake) =
        fake(r#"{"Code":"OK","Message":"OK","BizId":"900619746936^0","RequestId":"r1"}"#, &[]).await;
    let channel = format!(
        r#"[[paging.channels]]
name = "sms"
kind = "aliyun_sms"
access_key_id = "LTAI-test"
access_key_secret = "{ALIYUN_SECRET}"
sign_name = "某省高级人民法院"
template_code = "SMS_71390007"
endpoint = "{url}"
template_params = {{ ticket = "{{ticket}}", code = "{{code}}", level = "{{sev}}", title = "{{title}}", where = "{{system}}/{{unit}}" }}
"#
    );
    let app = TestApp::start_with(config_with(&db, &channel)).await;
    let ticket = open(&app, "a1", LONG_TITLE).await;
    eventually(Duration::from_secs(15), "the page reaches Aliyun", || async {
        !fake.lock().unwrap().requests.is_empty()
    })
    .await;
    let query = fake.lock().unwrap().requests[0].1.clone();
    let mut params: BTreeMap<String, String> = query
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    let signature = params.remove("Signature").expect("a signature");
    let unsigned: BTreeMap<&str, String> = params.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let expected = zhiban_integrations::sms::aliyun::sign_v1(ALIYUN_SECRET, &unsigned);
    assert_eq!(signature, expected.signature, "the signature verifies with the secret");
    assert_eq!(params["PhoneNumbers"], "13800138001");
    assert_eq!(params["TemplateCode"], "SMS_71390007");
    assert_eq!(params["SignName"], "某省高级人民法院");
    assert!(params["OutId"].starts_with("page:"), "{params:?}");
    let template: Value = serde_json::from_str(&params["TemplateParam"]).unwrap();
    assert_eq!(template["ticket"], ticket.as_str());
    assert_eq!(template["code"], &ticket[9..]);
    // The title's words raise the level (所有基层院…); the label is the incident's.
    assert_eq!(template["level"], app.incident(&ticket).await["severity_label"]);
    assert_eq!(template["where"], "统一业务应用系统/");
    let title = template["title"].as_str().unwrap();
    assert_eq!(title.chars().count(), 35, "{title}");
    assert!(title.ends_with('…') && LONG_TITLE.starts_with(title.trim_end_matches('…')), "{title}");
    eventually(Duration::from_secs(10), "the page is marked sent", || async {
        page_statuses(&app, &ticket).await == ["sent"]
    })
    .await;
    assert_eq!(fake.lock().unwrap().requests.len(), 1);
    app.stop().await;
}

async fn tencent_throttling_is_retried_and_delivered_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    let ok = r#"{"Response":{"SendStatusSet":[{"SerialNo":"5000:1","PhoneNumber":"+8613800138001","Fee":1,"Code":"Ok","Message":"send success","IsoCode":"CN"}],"RequestId":"r2"}}"#;
    let throttled = r#"{"Response":{"Error":{"Code":"RequestLimitExceeded","Message":"too many requests"},"RequestId":"r1"}}"#;
    let (url, fake) = fake(ok, &[throttled]).await;
    let channel = format!(
        r#"[[paging.channels]]
name = "sms"
kind = "tencent_sms"
secret_id = "AKID-test"
secret_key = "{TENCENT_KEY}"
sdk_app_id = "1400006666"
sign_name = "某省高院"
template_id = "449739"
endpoint = "{url}"
template_params = ["{{code}}", "{{sev}}", "{{title}}"]
param_max_chars = 12
"#
    );
    let app = TestApp::start_with(config_with(&db, &channel)).await;
    let ticket = open(&app, "t1", "电子卷宗系统无法登录").await;
    eventually(Duration::from_secs(20), "the page is retried after throttling", || async {
        fake.lock().unwrap().requests.len() >= 2
    })
    .await;
    eventually(Duration::from_secs(10), "the page is marked sent", || async {
        page_statuses(&app, &ticket).await == ["sent"]
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let requests = fake.lock().unwrap().requests.clone();
    assert_eq!(requests.len(), 2, "one throttled attempt, one delivery");
    for (headers, _, body) in &requests {
        let header = |n: &str| headers.get(n).unwrap().to_str().unwrap().to_string();
        let expected = zhiban_integrations::sms::tc3::sign(&zhiban_integrations::sms::tc3::Tc3Input {
            secret_id: "AKID-test",
            secret_key: TENCENT_KEY,
            service: "sms",
            host: &header("host"),
            payload: body,
            timestamp: header("x-tc-timestamp").parse().unwrap(),
        })
        .unwrap();
        assert_eq!(header("authorization"), expected.authorization);
        let body: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(body["PhoneNumberSet"], json!(["+8613800138001"]));
        assert_eq!(body["TemplateParamSet"], json!([&ticket[9..], "二级", "电子卷宗系统无法登录"]));
    }
    app.stop().await;
}

async fn inbound(app: &TestApp, channel: &str, token: &str, body: Value) -> (u16, Value) {
    let r = app
        .http
        .post(app.url(&format!("/api/v1/sms/inbound/{channel}")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn gateway_pages_and_replies_acknowledge(backend: Backend) {
    let db = TestDb::new(backend).await;
    let (url, gateway) = fake(r#"{"code": 0, "id": "g1"}"#, &[]).await;
    let channel = format!(
        r#"[[paging.channels]]
name = "sms"
kind = "sms_gateway"
url = "{url}send"
headers = {{ "X-Token" = "gateway-secret-token", "Content-Type" = "application/json" }}
body = '{{"mobile": "{{to}}", "content": "{{text}}"}}'
response = {{ code_pointer = "/code", success_values = ["0"] }}
inbound_token = "{INBOUND}"
"#
    );
    let app = TestApp::start_with(config_with(&db, &channel)).await;
    let ticket = open(&app, "g1", "统一业务应用系统无法登录").await;
    let seq = &ticket[9..];
    eventually(Duration::from_secs(15), "the gateway gets the page", || async {
        !gateway.lock().unwrap().requests.is_empty()
    })
    .await;
    let sent = |i: usize| {
        let f = gateway.lock().unwrap();
        let (headers, _, body) = &f.requests[i];
        assert_eq!(headers.get("x-token").unwrap(), "gateway-secret-token");
        serde_json::from_slice::<Value>(body).unwrap()
    };
    let page = sent(0);
    assert_eq!(page["mobile"], "13800138001");
    let text = page["content"].as_str().unwrap();
    assert!(text.contains(&ticket) && text.contains(&format!("回复 1 {seq} 确认")), "{text}");

    // Refused at the door: unknown channel, wrong token, no token, a body that is not a reply.
    let reply = json!({"from": "+86 138 0013 8001", "text": format!("1 {seq}")});
    assert_eq!(inbound(&app, "nope", INBOUND, reply.clone()).await.0, 404);
    let (status, body) = inbound(&app, "sms", "wrong-token-000000000", reply.clone()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")), "{body}");
    let (status, body) = inbound(&app, "sms", INBOUND, json!({"text": "1 007"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("bad_request")), "{body}");
    assert_eq!(app.incident(&ticket).await["status"], "new");

    // The engineer replies `1 <seq>`: acknowledged by him, through SMS.
    let (status, body) = inbound(&app, "sms", INBOUND, reply.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["reply"].as_str().unwrap().starts_with(&format!("已确认工单 {ticket}")), "{body}");
    let incident = app.incident(&ticket).await;
    assert_eq!(incident["status"], "acknowledged");
    assert_eq!(incident["assignee"], "zhangwei");
    let ack = incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "acknowledged")
        .cloned()
        .unwrap_or_else(|| panic!("no acknowledgement in {incident:#}"));
    assert_eq!(ack["channel"], "sms", "{ack}");
    assert_eq!(ack["actor"], json!({"type": "person", "id": "zhangwei"}), "{ack}");
    assert_eq!(ack["actor_name"], "张伟");
    assert_eq!(page_statuses(&app, &ticket).await, ["acknowledged"]);

    // The answer goes back through the gateway to the engineer.
    eventually(Duration::from_secs(10), "the answer is sent through the gateway", || async {
        gateway.lock().unwrap().requests.len() >= 2
    })
    .await;
    let answer = sent(1);
    assert_eq!(answer["mobile"], "13800138001");
    assert!(answer["content"].as_str().unwrap().starts_with("已确认工单"), "{answer}");

    // Again, as a form (many gateways post forms): politely already done.
    let form = format!("from=13800138001&text=1+{seq}");
    let r = app
        .http
        .post(app.url("/api/v1/sms/inbound/sms"))
        .bearer_auth(INBOUND)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["reply"], format!("您已确认工单 {ticket}，无需重复确认。"), "{body}");

    // A stranger's number acts on nothing.
    let (status, body) =
        inbound(&app, "sms", INBOUND, json!({"from": "13900000000", "text": format!("2 {seq}")})).await;
    assert_eq!(status, 200);
    assert!(body["reply"].as_str().unwrap().contains("未登记"), "{body}");
    // Malformed text gets the usage.
    let (_, body) = inbound(&app, "sms", INBOUND, json!({"from": "13800138001", "text": "好的"})).await;
    assert!(body["reply"].as_str().unwrap().contains("用法"), "{body}");
    // An unknown number of the day.
    let (_, body) = inbound(&app, "sms", INBOUND, json!({"from": "13800138001", "text": "2 999"})).await;
    assert!(body["reply"].as_str().unwrap().starts_with("未找到"), "{body}");
    assert_eq!(app.incident(&ticket).await["status"], "acknowledged");
    app.stop().await;
}

mod fake_modem {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::sync::mpsc;
    use zhiban_integrations::sms::modem::SerialPort;

    /// What the fake modem saw and holds.
    #[derive(Default)]
    pub struct ModemState {
        pub commands: Vec<String>,
        /// SMS-SUBMIT PDUs sent, as hex.
        pub sent: Vec<String>,
        /// Received messages on the "SIM": index → DELIVER PDU hex.
        pub stored: BTreeMap<u32, String>,
    }

    pub struct FakeModem {
        pub state: Arc<Mutex<ModemState>>,
        pub unsolicited: mpsc::UnboundedSender<String>,
        /// The pty's slave side stays open while the test runs, so the master never sees EIO.
        pub _slave: std::os::fd::OwnedFd,
        pub device: String,
    }

    enum Input {
        Bytes(usize),
        Unsolicited(String),
        End,
    }

    pub fn start() -> FakeModem {
        let pair = nix::pty::openpty(None, None).expect("openpty");
        let device = nix::unistd::ttyname(&pair.slave).expect("ttyname").display().to_string();
        let port = SerialPort::from_fd(pair.master).expect("master side");
        let state = Arc::new(Mutex::new(ModemState::default()));
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(port, state.clone(), rx));
        FakeModem { state, unsolicited: tx, _slave: pair.slave, device }
    }

    async fn run(
        mut port: SerialPort,
        state: Arc<Mutex<ModemState>>,
        mut rx: mpsc::UnboundedReceiver<String>,
    ) {
        let mut buf = Vec::new();
        let mut pending_pdu = false;
        let mut echo = true;
        let mut chunk = [0u8; 512];
        loop {
            let input = tokio::select! {
                n = port.read(&mut chunk) => match n { Ok(0) | Err(_) => Input::End, Ok(n) => Input::Bytes(n) },
                line = rx.recv() => line.map(Input::Unsolicited).unwrap_or(Input::End),
            };
            match input {
                Input::End => return,
                Input::Unsolicited(line) => {
                    let _ = port.write_all(line.as_bytes()).await;
                    continue;
                }
                Input::Bytes(n) => buf.extend_from_slice(&chunk[..n]),
            }
            loop {
                if pending_pdu {
                    let Some(end) = buf.iter().position(|&b| b == 0x1A) else { break };
                    let pdu: Vec<u8> = buf.drain(..=end).collect();
                    let reference = {
                        let mut s = state.lock().unwrap();
                        s.sent.push(String::from_utf8_lossy(&pdu[..end]).into_owned());
                        s.sent.len()
                    };
                    pending_pdu = false;
                    let _ = port.write_all(format!("\r\n+CMGS: {reference}\r\n\r\nOK\r\n").as_bytes()).await;
                    continue;
                }
                while buf.first() == Some(&0x1B) {
                    buf.remove(0);
                }
                let Some(end) = buf.iter().position(|&b| b == b'\r') else { break };
                let line: Vec<u8> = buf.drain(..=end).collect();
                let command = String::from_utf8_lossy(&line[..end]).trim().to_string();
                if command.is_empty() {
                    continue;
                }
                if echo {
                    let _ = port.write_all(&line).await;
                }
                let answer = {
                    let mut s = state.lock().unwrap();
                    s.commands.push(command.clone());
                    if command == "ATE0" {
                        echo = false;
                        "\r\nOK\r\n".to_string()
                    } else if command == "AT+CMGF=0" || command.starts_with("AT+CNMI=") {
                        "\r\nOK\r\n".to_string()
                    } else if command.starts_with("AT+CMGS=") {
                        pending_pdu = true;
                        "\r\n> ".to_string()
                    } else if command == "AT+CMGL=4" {
                        let mut a = String::from("\r\n");
                        for (index, pdu) in &s.stored {
                            a.push_str(&format!("+CMGL: {index},0,,{}\r\n{pdu}\r\n", pdu.len() / 2 - 8));
                        }
                        a.push_str("\r\nOK\r\n");
                        a
                    } else if let Some(index) = command.strip_prefix("AT+CMGD=") {
                        s.stored.remove(&index.parse().unwrap_or(0));
                        "\r\nOK\r\n".to_string()
                    } else {
                        "\r\nERROR\r\n".to_string()
                    }
                };
                let _ = port.write_all(answer.as_bytes()).await;
            }
        }
    }
}

/// The texts the modem sent, parts joined, with their recipients.
fn modem_texts(state: &fake_modem::ModemState) -> Vec<(String, String)> {
    use zhiban_integrations::sms::pdu::decode_submit;
    let mut out: Vec<(String, String)> = Vec::new();
    for hex in &state.sent {
        let part = decode_submit(hex).expect("a valid SMS-SUBMIT");
        let to = part.to.to_string();
        match part.concat {
            Some(c) if c.seq > 1 => out.last_mut().unwrap().1.push_str(&part.text),
            _ => out.push((to, part.text)),
        }
    }
    out
}

async fn modem_pages_and_reads_replies(backend: Backend) {
    use zhiban_integrations::sms::pdu::{Address, Alphabet, DeliverPdu, encode_deliver};

    let db = TestDb::new(backend).await;
    let modem = fake_modem::start();
    let channel = format!(
        r#"[[paging.channels]]
name = "sms"
kind = "gsm_modem"
device = "{}"
baud = 115200
poll_every = "2s"
"#,
        modem.device
    );
    let app = TestApp::start_with(config_with(&db, &channel)).await;
    let ticket = open(&app, "m1", "统一业务应用系统无法登录").await;
    let seq = &ticket[9..];
    eventually(Duration::from_secs(20), "the modem sends the page", || async {
        !modem.state.lock().unwrap().sent.is_empty()
    })
    .await;
    eventually(Duration::from_secs(10), "the page is marked sent", || async {
        page_statuses(&app, &ticket).await == ["sent"]
    })
    .await;
    let texts = modem_texts(&modem.state.lock().unwrap());
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert_eq!(texts[0].0, "+8613800138001");
    assert!(texts[0].1.contains(&ticket) && texts[0].1.contains(&format!("回复 1 {seq} 确认")), "{texts:?}");

    // The engineer answers `2 <seq>` (on site); the modem announces it.
    let reply = encode_deliver(&DeliverPdu {
        smsc: Some(Address::international("8613800100500")),
        sender: Address::international("8613800138001"),
        timestamp: jiff::Timestamp::now(),
        offset: jiff::tz::Offset::from_hours(8).unwrap(),
        alphabet: Alphabet::Ucs2,
        text: format!("２ {seq}"),
        concat: None,
    })
    .unwrap();
    modem.state.lock().unwrap().stored.insert(3, reply);
    modem.unsolicited.send("\r\n+CMTI: \"SM\",3\r\n".into()).unwrap();
    wait_status(&app, &ticket, "on_site").await;
    let incident = app.incident(&ticket).await;
    assert_eq!(incident["assignee"], "zhangwei");
    let arrived = incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "arrived_on_site")
        .cloned()
        .unwrap_or_else(|| panic!("no arrival in {incident:#}"));
    assert_eq!(arrived["channel"], "sms", "{arrived}");

    // Deleted from the SIM once handled, and answered.
    eventually(Duration::from_secs(10), "the reply is deleted and answered", || async {
        let s = modem.state.lock().unwrap();
        s.stored.is_empty() && s.commands.iter().any(|c| c == "AT+CMGD=3") && s.sent.len() >= 2
    })
    .await;
    let texts = modem_texts(&modem.state.lock().unwrap());
    assert_eq!(texts[1], ("+8613800138001".to_string(), format!("已记录到场：工单 {ticket}。")));
    let commands = modem.state.lock().unwrap().commands.clone();
    let deleted = commands.iter().position(|c| c == "AT+CMGD=3").unwrap();
    assert!(commands[..deleted].iter().any(|c| c == "AT+CMGL=4"), "read before deleted: {commands:?}");
    app.stop().await;
}

on_both_backends!(
    aliyun_page_carries_the_template_parameters,
    tencent_throttling_is_retried_and_delivered_once,
    gateway_pages_and_replies_acknowledge,
    modem_pages_and_reads_replies,
);
