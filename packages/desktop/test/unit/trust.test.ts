// @vitest-environment happy-dom
// [trust] The security screens against a real server (the built sync server with the demo data):
// the audit trail lists, filters and exports (the export is itself audited); the roles editor creates
// a role and gives it to an agent; in both languages.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia, type Pinia } from 'pinia';
import ElementPlus from 'element-plus';
import TrustAdmin from '../../src/renderer/components/admin/TrustAdmin.vue';
import AuditTrail from '../../src/renderer/components/admin/AuditTrail.vue';
import RolesEditor from '../../src/renderer/components/admin/RolesEditor.vue';
import RevealValue from '../../src/renderer/components/trust/RevealValue.vue';
import { makeI18n } from '../../src/renderer/i18n';
import { createServerApi } from '../../src/renderer/platform/serverApi';
import { setServices } from '../../src/renderer/platform/services';
import { auditQuery, useTrustStore } from '../../src/renderer/stores/trust';
import { flush, offlineServices } from './testServices';

interface TestServer {
  url: string;
  stop(): Promise<void>;
}

/** The built sync server (dist/main.js) with the demo data in a temporary directory (happy-dom's URL cannot make file paths: node:path does). */
async function startTestServer(): Promise<TestServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'goutong-trust-ui-'));
  const main = path.resolve(import.meta.dirname, '../../../sync-server/dist/main.js');
  const child = spawn(process.execPath, [main], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', GOUTONG_DATA_DIR: dataDir, GOUTONG_DEMO: '1', GOUTONG_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /running on (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
  return {
    url,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A fetch over node:http (happy-dom's fetch applies the browser's same-origin policy to the test). */
function nodeFetch(url: string, init: RequestInit = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: init.method ?? 'GET', headers: (init.headers ?? {}) as Record<string, string> }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        resolve({ ok: status >= 200 && status < 300, status, text: async () => text, json: async () => JSON.parse(text) as unknown } as Response);
      });
    });
    req.on('error', reject);
    if (typeof init.body === 'string') req.write(init.body);
    req.end();
  });
}

let server: TestServer;
let token: string;
let pinia: Pinia;

async function until(fn: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    await flush();
    if (fn()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out: ${what}`);
}

beforeAll(async () => {
  server = await startTestServer();
  const res = await nodeFetch(`${server.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'admin@demo.goutong', password: 'goutong-demo' }) });
  token = ((await res.json()) as { accessToken: string }).accessToken;
});
afterAll(async () => server?.stop());

beforeEach(async () => {
  pinia = createPinia();
  setActivePinia(pinia);
  const services = await offlineServices();
  setServices({ ...services, api: createServerApi({ baseUrl: server.url, token: async () => token, fetch: nodeFetch }) });
});

describe('security settings (audit trail, roles)', () => {
  it('builds audit queries without empty fields', () => {
    expect(auditQuery({ action: ' auth.login ', q: '' }, 'c9', 10)).toBe('action=auth.login&cursor=c9&limit=10');
  });

  it.each([['en', 'Audit trail', 'Export CSV'], ['zh-CN', '审计日志', '导出 CSV']] as const)('lists, filters and exports the trail (%s)', async (locale, title, exportLabel) => {
    const w = mount(TrustAdmin, { global: { plugins: [pinia, makeI18n(locale), ElementPlus] } });
    await until(() => w.findAll('tr.event').length > 0, 'audit rows');
    expect(w.text()).toContain(title);
    expect(w.text()).toContain('auth.login');
    // Filter by action.
    const audit = w.getComponent(AuditTrail);
    const actionInput = audit.get(`input[aria-label="${locale === 'en' ? 'Action (e.g. auth.login or command.*)' : '操作（如 auth.login 或 command.*）'}"]`);
    await actionInput.setValue('auth.login');
    await audit.get('form').trigger('submit');
    await until(() => w.findAll('tr.event').length > 0 && w.findAll('tr.event').every((r) => r.text().includes('auth.login')), 'filtered rows');
    // Export: the CSV comes from the server and the export is in the trail.
    const exportButton = audit.findAll('button').find((b) => b.text() === exportLabel)!;
    const before = (await useTrustStore().exportCsv({ action: 'audit.export' })) ?? '';
    await exportButton.trigger('click');
    await until(() => audit.find('[role="status"]').exists(), 'export notice');
    const after = (await useTrustStore().exportCsv({ action: 'audit.export' })) ?? '';
    expect(after.split('\r\n').filter(Boolean).length).toBeGreaterThan(before.split('\r\n').filter(Boolean).length);
    w.unmount();
  });

  it('creates a custom role and gives it to an agent', async () => {
    const trust = useTrustStore();
    await trust.loadCatalog();
    const w = mount(RolesEditor, { global: { plugins: [pinia, makeI18n('en'), ElementPlus] } });
    await until(() => w.text().includes('Built-in roles') && w.text().includes('agent'), 'built-in roles');
    expect(w.text()).toMatch(/agent · Personal data: masked/);
    await w.findAll('button').find((b) => b.text() === 'New role')!.trigger('click');
    await w.get('input[aria-label="Name"]').setValue(`Night shift ${Date.now()}`);
    await w.get('form').trigger('submit');
    await until(() => w.findAll('tr.role').length === 1, 'the new role');
    expect(w.get('tr.role').text()).toContain('Personal data: masked');
    const role = trust.roles[0]!;
    const agents = (await (await nodeFetch(`${server.url}/api/v1/agents`, { headers: { authorization: `Bearer ${token}` } })).json()) as { items: { id: string; email: string }[] };
    const bob = agents.items.find((a) => a.email === 'bob@demo.goutong')!;
    await trust.setAgentRole(bob.id, role.id);
    expect(trust.error).toBeNull();
    const after = (await (await nodeFetch(`${server.url}/api/v1/agents`, { headers: { authorization: `Bearer ${token}` } })).json()) as { items: { id: string; roleId?: string }[] };
    expect(after.items.find((a) => a.id === bob.id)!.roleId).toBe(role.id);
    w.unmount();
  });

  it('an agent whose role has pii.reveal but not pii.view reveals a masked value with a reason', async () => {
    const admin = (method: string, p: string, body?: unknown) =>
      nodeFetch(`${server.url}${p}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) }).then((r) => r.json() as Promise<any>);
    const role = await admin('POST', '/api/v1/roles', { name: `Revealers ${Date.now()}`, permissions: { actions: ['conversation.reply', 'pii.reveal'], scope: { kind: 'teams' } } });
    const agents = (await admin('GET', '/api/v1/agents')).items as { id: string; email: string }[];
    await admin('PUT', `/api/v1/agents/${agents.find((a) => a.email === 'alice@demo.goutong')!.id}/custom-role`, { roleId: role.id });
    const login = await nodeFetch(`${server.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'alice@demo.goutong', password: 'goutong-demo' }) });
    const aliceToken = ((await login.json()) as { accessToken: string }).accessToken;
    const services = await offlineServices();
    setServices({ ...services, api: createServerApi({ baseUrl: server.url, token: async () => aliceToken, fetch: nodeFetch }) });
    const aliceApi = (p: string) => nodeFetch(`${server.url}${p}`, { headers: { authorization: `Bearer ${aliceToken}` } }).then((r) => r.json() as Promise<any>);
    const conv = (await aliceApi('/api/v1/conversations?limit=50')).items.find((c: { contactName: string }) => c.contactName === '王芳');
    const contact = await aliceApi(`/api/v1/contacts/${conv.contactId}`);
    expect(contact.identities[0].identifier).toBe('+86138****8000');
    const w = mount(RevealValue, { props: { value: contact.identities[0].identifier, target: { kind: 'contact', id: contact.id }, field: 'identity:0' }, global: { plugins: [pinia, makeI18n('zh-CN'), ElementPlus] } });
    await until(() => w.findAll('button').some((b) => b.text() === '查看明文'), 'the reveal button');
    await w.findAll('button').find((b) => b.text() === '查看明文')!.trigger('click');
    await w.get('input[aria-label="查看原因（将被审计）"]').setValue('回电客户');
    await w.get('form').trigger('submit');
    await until(() => w.text().includes('+8613800138000'), 'the clear value');
    const audit = await admin('GET', '/api/v1/audit-events?action=pii.reveal');
    expect(audit.items[0].details.reason).toBe('回电客户');
    w.unmount();
  });
});
