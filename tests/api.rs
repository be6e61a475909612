//! The JSON API and the dashboard as people use them: roles, transitions, filters, errors.

mod common;

use common::*;
use serde_json::json;

async fn open(app: &TestApp, title: &str, key: &str, severity: &str) -> String {
    let body =
        json!({"title": title, "dedup_key": key, "severity": severity, "system": "统一业务"}).to_string();
    let (status, answer) = app.webhook("generic", GENERIC_TOKEN, &body).await;
    assert_eq!(status, 200, "{answer}");
    answer["incidents"][0]["ticket"].as_str().unwrap().to_string()
}

async fn people_act_within_their_roles(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db, &Knobs::default()).await;
    let ticket = open(&app, "统一业务应用系统无法登录", "k1", "二级").await;
    let path = |verb: &str| format!("/api/v1/incidents/{ticket}/{verb}");

    // A leader follows and comments but does not take incidents.
    let (status, body) = app.post(&path("acknowledge"), LEADER, json!({})).await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = app.post(&path("comment"), LEADER, json!({"text": "请尽快处理，下午有庭审"})).await;
    assert_eq!(status, 200);

    let (status, body) = app.post(&path("acknowledge"), ENGINEER, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "acknowledged");
    assert_eq!(body["assignee"], "zhangwei");
    let (status, body) = app.post(&path("acknowledge"), ENGINEER, json!({})).await;
    assert_eq!(status, 409, "acknowledging twice is a conflict: {body}");

    let (status, body) = app.post(&path("arrive"), ENGINEER, json!({})).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("on_site")));
    let (status, body) = app.post(&path("severity"), ENGINEER, json!({"severity": 1})).await;
    assert_eq!(status, 400, "a level change needs a reason");
    assert_eq!(body["error"]["field"], "reason");
    let (status, body) =
        app.post(&path("severity"), ENGINEER, json!({"severity": "一级", "reason": "全院无法立案"})).await;
    assert_eq!((status, body["severity"].as_u64()), (200, Some(1)));
    let (status, body) = app.post(&path("resolve"), ENGINEER, json!({"note": "重启应用服务器"})).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("resolved")));
    let (status, body) = app.post(&path("close"), ENGINEER, json!({})).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("closed")));

    let timeline: Vec<(String, String)> = body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap().to_string(), e["actor_name"].as_str().unwrap().to_string()))
        .collect();
    let expected = [
        ("opened", "generic"),
        ("commented", "李主任"),
        ("acknowledged", "张伟"),
        ("arrived_on_site", "张伟"),
        ("severity_changed", "张伟"),
        ("resolved", "张伟"),
        ("closed", "张伟"),
    ];
    assert_eq!(timeline, expected.map(|(a, b)| (a.to_string(), b.to_string())));
    assert_eq!(body["timeline"][1]["channel"], "api");

    let (status, _) = app.post(&path("acknowledge"), "no-such-token", json!({})).await;
    assert_eq!(status, 401);
    // A browser resends Basic credentials on its own: the API must not take them (CSRF).
    let r = app
        .http
        .post(app.url(&path("comment")))
        .basic_auth("x", Some(ENGINEER))
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (status, body) = app.post(&path("explode"), ENGINEER, json!({})).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = app.post("/api/v1/incidents/20261301-001/acknowledge", ENGINEER, json!({})).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = app.post("/api/v1/incidents/20200101-001/acknowledge", ENGINEER, json!({})).await;
    assert_eq!(status, 404);
    let r = app
        .http
        .post(app.url(&path("comment")))
        .bearer_auth(ENGINEER)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let (status, body) = app.post(&path("comment"), ENGINEER, json!({"txt": "typo"})).await;
    assert_eq!(status, 400, "unknown fields are refused: {body}");
    app.stop().await;
}

async fn merge_and_cancel(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db, &Knobs::default()).await;
    let first = open(&app, "卷宗系统上传失败", "a", "三级").await;
    let second = open(&app, "电子卷宗无法上传", "b", "三级").await;
    let (status, body) =
        app.post(&format!("/api/v1/incidents/{second}/merge"), ENGINEER, json!({"target": first})).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("merged")), "{body}");
    // The merged incident let go of its fault: a new report of it opens a fresh incident.
    let third = open(&app, "电子卷宗无法上传", "b", "三级").await;
    assert_ne!(third, second);
    let (status, _) = app
        .post(&format!("/api/v1/incidents/{third}/merge"), ENGINEER, json!({"target": "20200101-001"}))
        .await;
    assert_eq!(status, 404, "merging into a ticket that does not exist");
    let (status, body) = app.post(&format!("/api/v1/incidents/{third}/cancel"), ENGINEER, json!({})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (400, Some("reason")));
    let (status, _) =
        app.post(&format!("/api/v1/incidents/{third}/cancel"), ENGINEER, json!({"reason": "误报"})).await;
    assert_eq!(status, 200);
    app.stop().await;
}

async fn listing_filters_and_pages(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db, &Knobs::default()).await;
    for n in 0..5 {
        open(&app, &format!("告警{n}"), &format!("k{n}"), if n < 2 { "一级" } else { "四级" }).await;
    }
    let (_, body) = app.get("/api/v1/incidents?severity=1", ADMIN).await;
    assert_eq!(body["incidents"].as_array().unwrap().len(), 2);
    let (_, body) = app.get("/api/v1/incidents?status=open&system=tyyw", ADMIN).await;
    assert_eq!(body["incidents"].as_array().unwrap().len(), 5);
    let (_, page1) = app.get("/api/v1/incidents?limit=3", ADMIN).await;
    assert_eq!(page1["incidents"].as_array().unwrap().len(), 3);
    let next = page1["next"].as_i64().unwrap();
    let (_, page2) = app.get(&format!("/api/v1/incidents?limit=3&before={next}"), ADMIN).await;
    assert_eq!(page2["incidents"].as_array().unwrap().len(), 2);
    assert_eq!(page2["next"], serde_json::Value::Null);
    let (status, body) = app.get("/api/v1/incidents?status=burning", ADMIN).await;
    assert_eq!((status, body["error"]["field"].as_str()), (400, Some("status")));
    let (status, _) = app.get("/api/v1/incidents?colour=red", ADMIN).await;
    assert_eq!(status, 400);
    let (status, _) = app.get("/api/v1/incidents", "nobody").await;
    assert_eq!(status, 401);
    app.stop().await;
}

async fn reporting_by_api_and_the_dashboard(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db, &Knobs::default()).await;
    let (status, body) = app
        .post("/api/v1/incidents", ENGINEER, json!({"title": "某法院打印机卡纸 <script>alert(1)</script>", "system": "统一业务", "unit": "省院"}))
        .await;
    assert_eq!(status, 201, "{body}");
    let ticket = body["ticket"].as_str().unwrap().to_string();
    // The reporter's level is a floor, not a ceiling: the text can make it more severe.
    let (status, body) = app
        .post(
            "/api/v1/incidents",
            ENGINEER,
            json!({"title": "统一业务应用系统全省瘫痪，无法立案", "severity": 4}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let raised = app.incident(body["ticket"].as_str().unwrap()).await;
    assert_eq!(raised["severity"], 1, "{raised}");
    let (status, body) =
        app.post("/api/v1/incidents", ENGINEER, json!({"title": "x", "system": "不存在的系统"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (400, Some("system")));

    // The dashboard asks the browser for credentials, then shows the board, escaped.
    let r = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    let r = app.http.get(app.url("/")).basic_auth("zhangwei", Some(ENGINEER)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("故障看板") && html.contains(&ticket), "{html}");
    assert!(html.contains("&lt;script&gt;") && !html.contains("<script>alert"), "titles are escaped");
    let r = app
        .http
        .get(app.url(&format!("/incidents/{ticket}")))
        .basic_auth("x", Some(ENGINEER))
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("统一业务应用系统") && html.contains("某省高级人民法院"), "{html}");
    assert!(html.contains("定级依据"), "the reasons for the level are shown: {html}");

    for path in ["/healthz", "/readyz"] {
        assert_eq!(app.http.get(app.url(path)).send().await.unwrap().status(), 200, "{path}");
    }
    // Metrics are for people and the scraper, not for anyone on the network.
    assert_eq!(app.http.get(app.url("/metrics")).send().await.unwrap().status(), 401);
    let r = app.http.get(app.url("/metrics")).bearer_auth(LEADER).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("zhiban_open_incidents{severity=\"1\"}"));
    let r = app.http.get(app.url("/api/v1/webhooks/generic")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"]["code"], "method_not_allowed");
    let r = app.http.get(app.url("/")).basic_auth("x", Some(ENGINEER)).send().await.unwrap();
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    let r = app.http.get(app.url("/nowhere")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"]["code"], "not_found");
    app.stop().await;
}

on_both_backends!(
    people_act_within_their_roles,
    merge_and_cancel,
    listing_filters_and_pages,
    reporting_by_api_and_the_dashboard,
);
