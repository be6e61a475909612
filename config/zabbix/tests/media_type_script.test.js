// Runs the JavaScript of zhiban_media_type.yaml under Node with stand-ins for Zabbix's
// HttpRequest and Zabbix objects, the way Zabbix calls a webhook script.
//
//   node config/zabbix/tests/media_type_script.test.js
//   node config/zabbix/tests/media_type_script.test.js --write-fixtures
//
// --write-fixtures stores the bodies the script posts as integrations/tests/fixtures/zabbix_*.json,
// which the Rust parser's tests read, so both sides agree on the format.
'use strict';

const assert = require('assert');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..', '..', '..');
const yamlPath = path.join(__dirname, '..', 'zhiban_media_type.yaml');

// The `script: |` block scalar, dedented. Enough YAML for our own file.
function extractScript(yaml) {
  const lines = yaml.split('\n');
  const start = lines.findIndex((l) => /^\s+script: \|$/.test(l));
  assert.ok(start >= 0, 'no script block');
  const keyIndent = lines[start].search(/\S/);
  const out = [];
  let indent = null;
  for (const line of lines.slice(start + 1)) {
    if (line.trim() !== '' && line.search(/\S/) <= keyIndent) break;
    if (indent === null && line.trim() !== '') indent = line.search(/\S/);
    out.push(line.slice(indent || 0));
  }
  return out.join('\n');
}

const script = extractScript(fs.readFileSync(yamlPath, 'utf8'));

function run(params, answer) {
  const log = [];
  const sent = [];
  class HttpRequest {
    constructor() { this.headers = []; this.proxy = null; }
    addHeader(h) { this.headers.push(h); }
    setProxy(p) { this.proxy = p; }
    post(url, data) {
      sent.push({ url, data, headers: this.headers.slice(), proxy: this.proxy });
      this.status = answer.status;
      if (answer.throws) throw answer.throws;
      return answer.body;
    }
    getStatus() { return this.status; }
  }
  const Zabbix = { log: (level, msg) => log.push([level, msg]) };
  const fn = new Function('value', 'HttpRequest', 'Zabbix', script);
  let result;
  let error;
  try {
    result = fn(JSON.stringify(params), HttpRequest, Zabbix);
  } catch (e) {
    error = e;
  }
  return { result, error, sent, log };
}

// What Zabbix substitutes for the media type's parameters in a problem operation.
const problem = {
  event_date: '2026.11.24',
  event_id: '4711',
  event_name: '审判流程管理系统 应用服务不可用',
  event_nseverity: '4',
  event_opdata: '端口状态: 0',
  event_recovery_date: '{EVENT.RECOVERY.DATE}',
  event_recovery_id: '{EVENT.RECOVERY.ID}',
  event_recovery_time: '{EVENT.RECOVERY.TIME}',
  event_severity: 'High',
  event_source: '0',
  event_tags: JSON.stringify([
    { tag: 'component', value: 'application' },
    { tag: 'component', value: 'tomcat' },
    { tag: 'scope', value: 'availability' },
    { tag: 'system', value: '审判流程管理系统' },
    { tag: 'unit', value: '某某市中级人民法院' },
  ]),
  event_time: '10:15:30',
  event_tz: '+08:00',
  event_update_action: '{EVENT.UPDATE.ACTION}',
  event_update_date: '{EVENT.UPDATE.DATE}',
  event_update_message: '{EVENT.UPDATE.MESSAGE}',
  event_update_status: '0',
  event_update_time: '{EVENT.UPDATE.TIME}',
  event_value: '1',
  host_ip: '10.30.2.11',
  host_name: 'app-shenpan-01',
  http_proxy: '',
  trigger_description: '8080 端口无响应，立案和排期功能受影响',
  trigger_id: '23456',
  trigger_name: 'Service tomcat is down',
  zabbix_url: 'http://zabbix.court.local/zabbix',
  zhiban_token: 'dev-zabbix-token',
  zhiban_url: 'http://127.0.0.1:8080/',
};

// A recovery operation: {EVENT.ID} is still the problem event; the recovery has its own id.
const recovery = Object.assign({}, problem, {
  event_value: '0',
  event_recovery_id: '4790',
  event_recovery_date: '2026.11.24',
  event_recovery_time: '10:41:02',
});

const created = {
  status: 201,
  body: JSON.stringify({
    accepted: 1,
    incidents: [{ ticket: '20261124-007', status: 'created', url: 'http://host/incidents/20261124-007' }],
  }),
};

const tests = {
  'problem is posted with the token and the ticket comes back as tags'() {
    const r = run(problem, created);
    assert.strictEqual(r.error, undefined);
    assert.strictEqual(r.sent.length, 1);
    assert.strictEqual(r.sent[0].url, 'http://127.0.0.1:8080/api/v1/webhooks/zabbix');
    assert.deepStrictEqual(r.sent[0].headers, ['Content-Type: application/json', 'Authorization: Bearer dev-zabbix-token']);
    assert.strictEqual(r.sent[0].proxy, null);
    const body = JSON.parse(r.sent[0].data);
    assert.strictEqual(body.zhiban_token, undefined, 'the token stays out of the body');
    assert.strictEqual(body.zhiban_url, undefined);
    assert.strictEqual(body.event_id, '4711');
    assert.ok(Array.isArray(body.event_tags));
    assert.deepStrictEqual(JSON.parse(r.result), { tags: { __zhiban_ticket: '20261124-007', __zhiban_url: 'http://host/incidents/20261124-007' } });
    assert.ok(!r.log.some(([, m]) => m.includes('dev-zabbix-token')), 'the token is never logged');
    return body;
  },
  'recovery carries the problem id and the recovery id'() {
    const r = run(recovery, { status: 200, body: '{"accepted":1,"incidents":[{"ticket":"20261124-007","status":"resolved","url":"http://host/incidents/20261124-007"}]}' });
    assert.strictEqual(r.error, undefined);
    const body = JSON.parse(r.sent[0].data);
    assert.strictEqual(body.event_id, '4711');
    assert.strictEqual(body.event_recovery_id, '4790');
    assert.strictEqual(body.event_value, '0');
    return body;
  },
  'non-2xx throws so Zabbix retries'() {
    for (const status of [503, 400, 401, 413, 302, 0]) {
      const r = run(problem, { status, body: '{"error":"x"}' });
      assert.ok(typeof r.error === 'string' && r.error.includes('HTTP ' + status), `${status}: ${r.error}`);
    }
  },
  'network errors throw'() {
    const r = run(problem, { status: 0, throws: 'Cannot connect' });
    assert.ok(String(r.error).includes('Cannot connect'));
  },
  'odd answers give empty tags'() {
    for (const body of ['', 'OK', 'null', '{}', '{"incidents":null}', '{"incidents":[null,1]}', '{"incidents":[{"ticket":7,"url":"javascript:x"}]}', '[]']) {
      const r = run(problem, { status: 200, body });
      assert.strictEqual(r.error, undefined, body);
      assert.deepStrictEqual(JSON.parse(r.result), { tags: {} }, body);
    }
  },
  'unset macros are a clear error'() {
    const r = run(Object.assign({}, problem, { zhiban_url: '{$ZHIBAN.URL}' }), created);
    assert.ok(String(r.error).includes('{$ZHIBAN.URL}'), r.error);
    assert.strictEqual(r.sent.length, 0);
    const t = run(Object.assign({}, problem, { zhiban_token: '' }), created);
    assert.ok(String(t.error).includes('{$ZHIBAN.TOKEN}'), t.error);
  },
  'proxy is used when set'() {
    const r = run(Object.assign({}, problem, { http_proxy: ' http://proxy:3128 ' }), created);
    assert.strictEqual(r.sent[0].proxy, 'http://proxy:3128');
  },
  'tags that are not a JSON list are sent as text'() {
    const r = run(Object.assign({}, problem, { event_tags: '{EVENT.TAGSJSON}' }), created);
    assert.strictEqual(JSON.parse(r.sent[0].data).event_tags, '{EVENT.TAGSJSON}');
  },
  'non-trigger events are skipped'() {
    const r = run(Object.assign({}, problem, { event_source: '3' }), created);
    assert.strictEqual(r.sent.length, 0);
    assert.deepStrictEqual(JSON.parse(r.result), { tags: {} });
  },
};

let failed = 0;
const bodies = {};
for (const [name, test] of Object.entries(tests)) {
  try {
    bodies[name] = test();
    console.log('ok   ' + name);
  } catch (e) {
    failed += 1;
    console.log('FAIL ' + name + '\n     ' + (e && e.stack || e));
  }
}
if (!failed && process.argv.includes('--write-fixtures')) {
  const dir = path.join(root, 'integrations', 'tests', 'fixtures');
  const write = (file, body) => fs.writeFileSync(path.join(dir, file), JSON.stringify(body, null, 2) + '\n');
  write('zabbix_problem.json', bodies['problem is posted with the token and the ticket comes back as tags']);
  write('zabbix_recovery.json', bodies['recovery carries the problem id and the recovery id']);
  console.log('fixtures written to ' + dir);
}
process.exit(failed ? 1 : 0);
