//! The store's contract, checked the same way on SQLite and PostgreSQL through the `Store` trait.

mod common;

use std::collections::BTreeSet;

use common::*;
use jiff::{SignedDuration, Timestamp, civil::date};
use zhiban::domain::{
    Actor, Channel, DedupKey, EventKind, Incident, IncidentId, LifecyclePolicy, NewIncident, Severity,
    TicketNo, TimelineEntry, TimerKind,
};
use zhiban::store::{self, IncidentFilter, NewOutboxMessage, OutboxStatus, ReceiptKey, SharedStore};

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
    let id = tx.next_incident_ids(1).await.unwrap()[0];
    let day = date(2026, 11, 24);
    let ticket = TicketNo::new(day, tx.reserve_ticket_seqs(day, 1).await.unwrap()).unwrap();
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
            sla_policy: None,
            reasons: vec![],
            escalation_policy: None,
            hold: None,
        },
        at,
        &LifecyclePolicy::default(),
    );
    tx.insert_incidents(std::slice::from_ref(&incident)).await.unwrap();
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
    assert_eq!(tx.reserve_ticket_seqs(date(2026, 11, 25), 3).await.unwrap(), 1, "a new day starts at 1");
    drop(tx); // rolled back
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.reserve_ticket_seqs(date(2026, 11, 25), 3).await.unwrap(),
        1,
        "rolled-back numbers are not used"
    );
    assert_eq!(tx.reserve_ticket_seqs(date(2026, 11, 25), 2).await.unwrap(), 4, "ranges follow each other");
    let ids = tx.next_incident_ids(3).await.unwrap();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|i| *i > b.id), "{ids:?}");
    let mut locked = tx.lock_incidents(&[b.id, a.id, IncidentId(999_999)]).await.unwrap();
    assert_eq!(
        locked.iter().map(|i| i.id).collect::<Vec<_>>(),
        [a.id, b.id],
        "in id order, missing ones absent"
    );
    locked[1].severity = Severity::One;
    locked[1].event_count = 7;
    tx.save_incidents(&locked[1..]).await.unwrap();
    tx.commit().await.unwrap();
    let saved = store.incident_by_ticket(b.ticket).await.unwrap().unwrap();
    assert_eq!((saved.severity, saved.event_count), (Severity::One, 7));
    let page = store
        .incidents(&IncidentFilter { severities: vec![Severity::One], limit: 10, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(page.iter().map(|i| i.id).collect::<Vec<_>>(), [b.id]);
    // Newest first by default; most severe first when asked.
    let mut tx = store.begin().await.unwrap();
    let mut older = tx.lock_incidents(&[a.id]).await.unwrap();
    older[0].severity = Severity::One;
    tx.save_incidents(&older).await.unwrap();
    let mut newer = tx.lock_incidents(&[b.id]).await.unwrap();
    newer[0].severity = Severity::Four;
    tx.save_incidents(&newer).await.unwrap();
    tx.commit().await.unwrap();
    let newest = store.incidents(&IncidentFilter { limit: 1, ..Default::default() }).await.unwrap();
    assert_eq!(newest[0].id, b.id);
    let severe = store
        .incidents(&IncidentFilter { limit: 1, most_severe_first: true, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(severe[0].id, a.id, "an older 一级 comes before a newer 四级");
}

async fn dedup_keys_and_receipts(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = store_for(&db).await;
    let incident = insert(&store, "k", t("2026-11-24T01:00:00Z")).await;
    let key = incident.dedup_key.clone();
    let other = DedupKey::new("generic", "other");
    let mut tx = store.begin().await.unwrap();
    assert!(tx.dedup_holders(std::slice::from_ref(&key)).await.unwrap().is_empty());
    assert!(tx.claim_dedups(&[(key.clone(), incident.id)]).await.unwrap().is_empty());
    let held = tx.claim_dedups(&[(key.clone(), incident.id), (other.clone(), incident.id)]).await.unwrap();
    assert_eq!(held, std::slice::from_ref(&key), "a held key is not taken again");
    let holders =
        tx.dedup_holders(&[key.clone(), other.clone(), DedupKey::new("generic", "none")]).await.unwrap();
    assert_eq!(holders.len(), 2);
    assert_eq!(holders[&key], incident.id);
    let evt = |source: &str, id: &str| ReceiptKey { source: source.into(), occurrence_id: id.into() };
    let first = [(evt("generic", "evt-1"), Some(incident.id)), (evt("generic", "evt-2"), None)];
    tx.insert_receipts(&first, t("2026-11-24T01:00:00Z")).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let found = tx
        .find_receipts(&[evt("generic", "evt-1"), evt("generic", "evt-2"), evt("zabbix", "evt-1")])
        .await
        .unwrap();
    assert_eq!(found.len(), 2, "ids are per source");
    assert_eq!(found[&evt("generic", "evt-1")], Some(incident.id));
    assert_eq!(found[&evt("generic", "evt-2")], None);
    tx.insert_receipts(&[(evt("generic", "evt-1"), None)], t("2026-11-24T02:00:00Z")).await.unwrap();
    let again = tx.find_receipts(&[evt("generic", "evt-1")]).await.unwrap();
    assert_eq!(again[&evt("generic", "evt-1")], Some(incident.id), "a receipt is written once");
    tx.release_dedups(&[(key.clone(), IncidentId(incident.id.0 + 1000))]).await.unwrap();
    let holders = tx.dedup_holders(std::slice::from_ref(&key)).await.unwrap();
    assert_eq!(holders.get(&key), Some(&incident.id), "only the holder releases a key");
    tx.release_dedups(&[(key.clone(), incident.id)]).await.unwrap();
    assert!(tx.dedup_holders(std::slice::from_ref(&key)).await.unwrap().is_empty());
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
            event: EventKind::Opened {
                severity: Severity::Three,
                title: "卡顿".into(),
                reasons: vec!["关键词“卡顿”".into()],
            },
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
    let numbered: Vec<_> =
        entries.iter().enumerate().map(|(n, e)| (incident.id, n as u32 + 1, e.clone())).collect();
    let mut tx = store.begin().await.unwrap();
    tx.append_timeline(&numbered).await.unwrap();
    tx.commit().await.unwrap();
    let (_, read) = store.incident_with_timeline(incident.ticket).await.unwrap().unwrap();
    assert_eq!(read, entries);
    let mut tx = store.begin().await.unwrap();
    assert!(tx.append_timeline(&numbered[..1]).await.is_err(), "an entry number is used once per incident");
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
    let arms: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| (*id, TimerKind::AckReminder, now + SignedDuration::from_mins(n as i64)))
        .collect();
    tx.arm_timers(&arms, now).await.unwrap();
    // Re-arming moves the timer instead of adding one.
    tx.arm_timers(&[(ids[0], TimerKind::AckReminder, now + SignedDuration::from_mins(30))], now)
        .await
        .unwrap();
    tx.cancel_timers(&[(ids[1], TimerKind::AckReminder)]).await.unwrap();
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
    let messages: Vec<_> = (0..3)
        .map(|n| NewOutboxMessage {
            idempotency_key: format!("msg-{n}"),
            incident_id: None,
            sink: "hook".into(),
            payload: serde_json::json!({"text": format!("第{n}条")}),
            not_before: now,
        })
        .collect();
    assert_eq!(tx.enqueue(&messages).await.unwrap(), 3);
    assert_eq!(tx.enqueue(&messages).await.unwrap(), 0, "an idempotency key is enqueued once");
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
    let messages: Vec<_> = (0..200)
        .map(|n| NewOutboxMessage {
            idempotency_key: format!("m{n}"),
            incident_id: None,
            sink: "hook".into(),
            payload: serde_json::json!({}),
            not_before: now,
        })
        .collect();
    tx.enqueue(&messages).await.unwrap();
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

async fn chat_state_inbox_leases_and_bindings(backend: Backend) {
    use zhiban::store::chat::{ChatRoute, PostKind};
    use zhiban_integrations::chat::{ChatEvent, ChatId, ChatUpdate, Provider};
    let db = TestDb::new(backend).await;
    let store = store_for(&db).await;
    let now = t("2026-11-24T01:00:00Z");
    let tg = Provider::Telegram;
    let update = |id| ChatUpdate { id, event: ChatEvent::Ignored { what: "test".into() } };

    // Updates are taken once; the cursor is set with the updates it passed (also backwards:
    // Telegram may restart its ids lower after a quiet week).
    assert_eq!(store.inbox_add(tg, &[update(10), update(11)], Some(12), now).await.unwrap(), 2);
    assert_eq!(store.chat_cursor(tg).await.unwrap(), Some(12));
    assert_eq!(store.inbox_add(tg, &[update(11), update(12)], Some(11), now).await.unwrap(), 1);
    assert_eq!(store.chat_cursor(tg).await.unwrap(), Some(11));
    let claimed = store.inbox_claim("a", now, SignedDuration::from_secs(60), 10).await.unwrap();
    assert_eq!(claimed.iter().map(|i| i.update.as_ref().unwrap().id).collect::<Vec<_>>(), [10, 11, 12]);
    assert!(store.inbox_claim("b", now, SignedDuration::from_secs(60), 10).await.unwrap().is_empty());
    store.inbox_done(claimed[0].id, "a", now, None).await.unwrap();
    store.inbox_retry(claimed[1].id, "a", now + SignedDuration::from_secs(5), "db away").await.unwrap();
    // The unfinished ones come back when their lease (or retry time) ends.
    let later = store
        .inbox_claim("b", now + SignedDuration::from_secs(61), SignedDuration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(later.len(), 2);
    assert_eq!(store.inbox_pending().await.unwrap(), 2);

    // One holder per lease until it ends.
    let ttl = SignedDuration::from_secs(30);
    assert!(store.try_lease("telegram:poll", "one", now, ttl).await.unwrap());
    assert!(!store.try_lease("telegram:poll", "two", now, ttl).await.unwrap());
    assert!(store.try_lease("telegram:poll", "one", now + SignedDuration::from_secs(20), ttl).await.unwrap());
    assert!(
        !store.try_lease("telegram:poll", "two", now + SignedDuration::from_secs(40), ttl).await.unwrap()
    );
    assert!(store.try_lease("telegram:poll", "two", now + SignedDuration::from_secs(51), ttl).await.unwrap());
    store.release_lease("telegram:poll", "one").await.unwrap();
    assert!(
        !store.try_lease("telegram:poll", "one", now + SignedDuration::from_secs(52), ttl).await.unwrap()
    );

    // A code binds once, before it expires.
    let zhang = zhiban::domain::PersonId("zhangwei".into());
    store.add_bind_code("hash1", &zhang, now, now + SignedDuration::from_hours(1)).await.unwrap();
    store.add_bind_code("hash2", &zhang, now, now + SignedDuration::from_mins(1)).await.unwrap();
    assert_eq!(
        store.redeem_bind_code("hash2", tg, "7", None, now + SignedDuration::from_mins(2)).await.unwrap(),
        None
    );
    assert_eq!(store.redeem_bind_code("hash1", tg, "7", Some("zw"), now).await.unwrap(), Some(zhang.clone()));
    assert_eq!(store.redeem_bind_code("hash1", tg, "8", None, now).await.unwrap(), None);
    assert_eq!(store.im_binding(tg, "7").await.unwrap(), Some(zhang.clone()));
    assert_eq!(store.im_account_of(tg, &zhang).await.unwrap().as_deref(), Some("7"));

    // Cards follow a group that moved; a gone chat says why.
    let incident = insert(&store, "chat", now).await;
    let old = ChatId("-1".into());
    store.add_chat_message(tg, &old, "5", incident.id, PostKind::Card, now).await.unwrap();
    store.chat_moved(tg, &old, &ChatId("-100".into())).await.unwrap();
    assert_eq!(store.chat_route(tg, &old).await.unwrap(), ChatRoute::Live(ChatId("-100".into())));
    assert_eq!(store.chat_card(tg, &ChatId("-100".into()), incident.id).await.unwrap().as_deref(), Some("5"));
    assert_eq!(
        store.chat_message_incident(tg, &ChatId("-100".into()), "5").await.unwrap(),
        Some(incident.id)
    );
    store.chat_gone(tg, &ChatId("-100".into()), "bot was kicked", now).await.unwrap();
    assert!(matches!(store.chat_route(tg, &old).await.unwrap(), ChatRoute::Gone { .. }));

    // Attachments: once per source, bytes intact.
    let bytes = vec![0u8, 1, 2, 255];
    assert!(
        store
            .add_attachment(incident.id, "a.jpg", Some("image/jpeg"), &bytes, "telegram:f1", now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .add_attachment(incident.id, "a.jpg", Some("image/jpeg"), &bytes, "telegram:f1", now)
            .await
            .unwrap()
    );
    let listed = store.attachments_of(incident.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(store.attachment(listed[0].id).await.unwrap().unwrap().1, bytes);
}

on_both_backends!(
    chat_state_inbox_leases_and_bindings,
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
