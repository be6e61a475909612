//! A webhook receiver for outbox tests: records every delivery by its Idempotency-Key and answers
//! as the test tells it to.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

#[derive(Default)]
pub struct Record {
    /// key → how many times it arrived.
    pub deliveries: BTreeMap<String, u32>,
    /// Bodies in arrival order.
    pub bodies: Vec<serde_json::Value>,
    pub signatures_ok: bool,
    /// Status codes to answer with, first to last; 200 once empty.
    pub script: Vec<u16>,
    pub delay: Duration,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub record: Arc<Mutex<Record>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let record = Arc::new(Mutex::new(Record { signatures_ok: true, ..Default::default() }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = Router::new().route("/hook", post(receive)).with_state(record.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, record }
    }

    pub fn total(&self) -> u32 {
        self.record.lock().unwrap().deliveries.values().sum()
    }

    pub fn distinct(&self) -> usize {
        self.record.lock().unwrap().deliveries.len()
    }

    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.record.lock().unwrap().bodies.clone()
    }
}

async fn receive(State(record): State<Arc<Mutex<Record>>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    use hmac::{Hmac, KeyInit, Mac};
    let delay = record.lock().unwrap().delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let signature = headers.get("x-zhiban-signature").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"test-sink-secret-0001").unwrap();
    mac.update(&body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let mut r = record.lock().unwrap();
    if signature != expected {
        r.signatures_ok = false;
    }
    let status = if r.script.is_empty() { 200 } else { r.script.remove(0) };
    if status == 200 {
        *r.deliveries.entry(key).or_default() += 1;
        r.bodies.push(serde_json::from_slice(&body).unwrap_or_default());
    }
    StatusCode::from_u16(status).unwrap()
}
