//! The store's contract, checked the same way on SQLite and PostgreSQL through the `Store` trait.

mod common;

use std::collections::BTreeSet;

use common::*;
use jiff::{SignedDuration, Timestamp, civil::date};
use zhiban::domain::{
    Actor, Channel, DedupKey, EventKind, Incident, IncidentId, LifecyclePolicy, NewIncident, Severity,
    TicketNo, TimelineEntry, TimerKind,
};
use zhiban::store::{self, DedupClaim, IncidentFilter, NewOutboxMessage, OutboxStatus, Receipt, SharedStore};

async fn store_for(db: &TestDb) -> SharedStore {
    let s = store::connect(&db.url).await.unwrap();
    s.migrate().await.unwrap();
    s.migrate().await.expect("migrating twice is harmless");
    s
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

async fn insert(store: &SharedStore, key: &str, at: Timestamp) -> Incident {
    let mut tx = store.begin().await.unwrap();
    let id = tx.next_incident_id().await.unwrap();
    let day = date(2026, 11, 24);
    let ticket = TicketNo::new(day, tx.next_ticket_seq(day).await.unwrap()).unwrap();
    let (incident, _) = Incident::open(
        id,
        ticket,
        NewIncident {
            title: "审判流程管理系统卡顿".into(),
            description: "多个法庭反映".into(),
            severity: Severity::Three,
            system: Some("spxt".into()),
            unit: None,
            source: "generic".into(),
            dedup_key: DedupKey::new("generic", key),
            labels: [("env".to_string(), "prod".to_string())].into(),
            link: Some("http://grafana/d/1".into()),
        },
        at,
        &LifecyclePolicy::default(),
    );
    tx.insert_incident(&incident).await.unwrap();
    tx.commit().await.unwrap();
    incident
}

async fn incidents_round_trip_and_tickets_count_per_day(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = store_for(&db).await;
    let a = insert(&store, "a", t("2026-11-24T01:00:00Z")).await;
    let b = insert(&store, "b", t("2026-11-24T01:01:00Z")).await;
    assert_eq!(a.ticket.to_string(), "20261124-001");
    assert_eq!(b.ticket.to_string(), "20261124-002");
    let back = store.incident_by_ticket(a.ticket).await.unwrap().unwrap();
    assert_eq!(back, a, "every field survives the round trip");
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.next_ticket_seq(date(2026, 11, 25)).await.unwrap(), 1, "a new day starts at 1");
    drop(tx); // rolled back
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.next_ticket_seq(date(2026, 11, 25)).await.unwrap(), 1, "a rolled-back number is not used");
    let mut locked = tx.lock_incident(b.id).await.unwrap();
    locked.severity = Severity::One;
    tx.save_incident(&locked).await.unwrap();
    tx.commit().await.unwrap();
    let page = store
        .incidents(&IncidentFilter { severities: vec![Severity::One], limit: 10, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(page.iter().map(|i| i.id).collect::<Vec<_>>(), [b.id]);
}

async fn dedup_keys_and_receipts(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = store_for(&db).await;
    let incident = insert(&store, "k", t("2026-11-24T01:00:00Z")).await;
    let key = incident.dedup_key.clone();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.dedup_holder(&key).await.unwrap(), None);
    assert_eq!(tx.claim_dedup(&key).await.unwrap(), DedupClaim::Claimed);
    tx.bind_dedup(&key, incident.id).await.unwrap();
    assert_eq!(tx.claim_dedup(&key).await.unwrap(), DedupClaim::HeldBy(incident.id));
    assert_eq!(tx.record_receipt("generic", "evt-1", t("2026-11-24T01:00:00Z")).await.unwrap(), Receipt::New);
    tx.link_receipt("generic", "evt-1", incident.id).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.record_receipt("generic", "evt-1", t("2026-11-24T01:05:00Z")).await.unwrap(),
        Receipt::Seen(Some(incident.id))
    );
    assert_eq!(
        tx.record_receipt("zabbix", "evt-1", t("2026-11-24T01:05:00Z")).await.unwrap(),
        Receipt::New,
        "ids are per source"
    );
    tx.release_dedup(&key, IncidentId(incident.id.0 + 1000)).await.unwrap();
    assert_eq!(tx.dedup_holder(&key).await.unwrap(), Some(incident.id), "only the holder releases a key");
    tx.release_dedup(&key, incident.id).await.unwrap();
    assert_eq!(tx.dedup_holder(&key).await.unwrap(), None);
    tx.commit().await.unwrap();
}

async fn timelines_keep_order_and_content(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = store_for(&db).await;
    let incident = insert(&store, "tl", t("2026-11-24T01:00:00Z")).await;
    let entries = vec![
        TimelineEntry {
            at: t("2026-11-24T01:00:00Z"),
            actor: Actor::Source("zabbix".into()),
            channel: Channel::Webhook,
            event: EventKind::Opened { severity: Severity::Three, title: "卡顿".into() },
        },
        TimelineEntry {
            at: t("2026-11-24T01:03:00Z"),
            actor: Actor::Person(zhiban::domain::PersonId("zhangwei".into())),
            channel: Channel::Api,
            event: EventKind::SeverityChanged {
                from: Severity::Three,
                to: Severity::One,
                reason: "全院".into(),
            },
        },
        TimelineEntry {
            at: t("2026-11-24T01:04:00Z"),
            actor: Actor::System,
            channel: Channel::Timer,
            event: EventKind::AckOverdue,
        },
    ];
    let mut tx = store.begin().await.unwrap();
    let mut ids = Vec::new();
    for e in &entries {
        ids.push(tx.append_timeline(incident.id, e).await.unwrap());
    }
    tx.commit().await.unwrap();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(store.timeline(incident.id).await.unwrap(), entries);
}

async fn due_timers_are_taken_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = store_for(&db).await;
    let now = t("2026-11-24T01:00:00Z");
    let mut ids = Vec::new();
    for n in 0..6 {
        ids.push(insert(&store, &format!("timer-{n}"), now).await.id);
    }
    let mut tx = store.begin().await.unwrap();
    for (n, id) in ids.iter().enumerate() {
        tx.arm_timer(*id, TimerKind::AckReminder, now + SignedDuration::from_mins(n as i64), now)
            .await
            .unwrap();
    }
    // Re-arming moves the timer instead of adding one.
    tx.arm_timer(ids[0], TimerKind::AckReminder, now + SignedDuration::from_mins(30), now).await.unwrap();
    tx.cancel_timer(ids[1], TimerKind::AckReminder).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.next_timer_due().await.unwrap(), Some(now + SignedDuration::from_mins(2)));

    let at = now + SignedDuration::from_mins(4);
    let mut tx = store.begin().await.unwrap();
    let due = tx.take_due_timers(at, 2).await.unwrap();
    assert_eq!(
        due.iter().map(|d| d.incident_id).collect::<Vec<_>>(),
        [ids[2], ids[3]],
        "earliest first, limited"
    );
    drop(tx); // rolled back: they are due again
    let mut tx = store.begin().await.unwrap();
    let due = tx.take_due_timers(at, 10).await.unwrap();
    assert_eq!(due.iter().map(|d| d.incident_id).collect::<Vec<_>>(), [ids[2], ids[3], ids[4]]);
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(tx.take_due_timers(at, 10).await.unwrap().is_empty(), "taken timers are gone");
    tx.commit().await.unwrap();
    let stats = store.stats(at).await.unwrap();
    assert_eq!(stats.timers_pending, 2);
}

async fn outbox_leases_retries_and_dead_letters(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = store_for(&db).await;
    let now = t("2026-11-24T01:00:00Z");
    let mut tx = store.begin().await.unwrap();
    for n in 0..3 {
        let m = NewOutboxMessage {
            idempotency_key: format!("msg-{n}"),
            incident_id: None,
            sink: "hook".into(),
            payload: serde_json::json!({"text": format!("第{n}条")}),
            not_before: now,
        };
        assert!(tx.enqueue(&m).await.unwrap());
        assert!(!tx.enqueue(&m).await.unwrap(), "an idempotency key is enqueued once");
    }
    tx.commit().await.unwrap();

    let lease = SignedDuration::from_secs(30);
    let mine = store.claim_outbox("w1", now, lease, 2).await.unwrap();
    assert_eq!(mine.iter().map(|m| m.idempotency_key.as_str()).collect::<Vec<_>>(), ["msg-0", "msg-1"]);
    assert!(mine.iter().all(|m| m.attempts == 1));
    let theirs = store.claim_outbox("w2", now, lease, 10).await.unwrap();
    assert_eq!(
        theirs.iter().map(|m| m.idempotency_key.as_str()).collect::<Vec<_>>(),
        ["msg-2"],
        "leased rows are skipped"
    );

    assert!(store.outbox_sent(mine[0].id, "w1", now).await.unwrap());
    assert!(!store.outbox_sent(mine[0].id, "w1", now).await.unwrap(), "recorded once");
    assert!(!store.outbox_sent(mine[1].id, "w2", now).await.unwrap(), "only the lease holder records");
    assert!(
        store.outbox_retry(mine[1].id, "w1", now + SignedDuration::from_secs(10), "HTTP 503").await.unwrap()
    );
    assert!(
        store.claim_outbox("w1", now + SignedDuration::from_secs(5), lease, 10).await.unwrap().is_empty()
    );
    assert_eq!(store.next_outbox_due().await.unwrap(), Some(now + SignedDuration::from_secs(10)));

    // w2 dies holding msg-2: when its lease ends, msg-2 is due again for someone else.
    let later = now + SignedDuration::from_secs(31);
    let again = store.claim_outbox("w3", later, lease, 10).await.unwrap();
    let keys: BTreeSet<_> = again.iter().map(|m| m.idempotency_key.clone()).collect();
    assert_eq!(keys, ["msg-1".to_string(), "msg-2".to_string()].into());
    let m2 = again.iter().find(|m| m.idempotency_key == "msg-2").unwrap();
    assert_eq!(m2.attempts, 2);
    assert!(!store.outbox_sent(m2.id, "w2", later).await.unwrap(), "a lost lease cannot record");
    assert!(store.outbox_dead(m2.id, "w3", "HTTP 400").await.unwrap());
    let dead = store.outbox_messages(Some(OutboxStatus::Dead), 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error.as_deref(), Some("HTTP 400"));
    assert_eq!(dead[0].payload["text"], "第2条");
    let stats = store.stats(later).await.unwrap();
    assert_eq!((stats.outbox_pending, stats.outbox_dead), (1, 1));
}

async fn concurrent_claimers_never_share_a_message(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = store_for(&db).await;
    let now = t("2026-11-24T01:00:00Z");
    let mut tx = store.begin().await.unwrap();
    for n in 0..200 {
        let m = NewOutboxMessage {
            idempotency_key: format!("m{n}"),
            incident_id: None,
            sink: "hook".into(),
            payload: serde_json::json!({}),
            not_before: now,
        };
        tx.enqueue(&m).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = store
                    .claim_outbox(&format!("w{w}"), now, SignedDuration::from_secs(60), 7)
                    .await
                    .unwrap();
                if batch.is_empty() {
                    return got;
                }
                got.extend(batch.into_iter().map(|m| m.idempotency_key));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let distinct: BTreeSet<_> = all.iter().cloned().collect();
    assert_eq!(all.len(), 200, "each message claimed exactly once");
    assert_eq!(distinct.len(), 200);
}

on_both_backends!(
    incidents_round_trip_and_tickets_count_per_day,
    dedup_keys_and_receipts,
    timelines_keep_order_and_content,
    due_timers_are_taken_once,
    outbox_leases_retries_and_dead_letters,
    concurrent_claimers_never_share_a_message,
);

#[tokio::test]
async fn unknown_database_urls_are_refused_clearly() {
    let err = store::connect("mysql://root@localhost/zhiban").await.err().unwrap();
    assert!(err.to_string().contains("sqlite://"), "{err}");
}
