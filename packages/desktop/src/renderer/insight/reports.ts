// Reports as the server answers them (GET /api/v1/reports/*), and how the dashboard shows them.
import type { AgentReportRow, CsatReport, OfferUsageRow, ReportOverview, VolumeGroup, VolumeRow } from '@goutong/core';
import { currentServices } from '../platform/services';

export type { Distribution } from '@goutong/core';

export type Overview = ReportOverview & { previous: ReportOverview | null };
export type AgentRow = AgentReportRow & { name: string };

export interface Budget {
  currency: string;
  monthly: number | null;
  spent: number;
  exceeded: boolean;
}

export type Metric = 'conversations_opened' | 'conversations_resolved' | 'messages_in' | 'messages_out' | 'cost' | 'first_response_median' | 'resolution_median';

export interface Filters {
  from: number;
  to: number;
  tz: string;
  inboxId: string;
}

function api() {
  const a = currentServices()?.api;
  if (!a) throw new Error('not connected to a server');
  return a;
}

const qs = (f: Filters, extra: Record<string, string> = {}): string =>
  new URLSearchParams({ from: String(f.from), to: String(f.to), tz: f.tz, ...(f.inboxId ? { inboxId: f.inboxId } : {}), ...extra }).toString();

export const fetchOverview = (f: Filters) => api().request<Overview>('GET', `/api/v1/reports/overview?${qs(f, { compare: 'previous' })}`);
export const fetchAgents = (f: Filters) => api().request<{ items: AgentRow[] }>('GET', `/api/v1/reports/agents?${qs(f)}`);
export type CostGroup = 'conversation' | 'contact' | 'inbox' | 'team' | 'channel';
export interface CostRow {
  key: string;
  label: string | null;
  cost: number;
  items: number;
}
export const fetchCosts = (f: Filters, groupBy: CostGroup, limit = 20) =>
  api().request<{ groupBy: CostGroup; currency: string; items: CostRow[] }>('GET', `/api/v1/reports/costs?${qs(f, { groupBy, limit: String(limit) })}`);
export const fetchBudget = () => api().request<Budget>('GET', '/api/v1/reports/budget');
export const fetchSeries = (f: Filters, metric: Metric, interval: 'hour' | 'day') =>
  api().request<{ points: Array<{ t: number; v: number }> }>('GET', `/api/v1/reports/timeseries?${qs(f, { metric, interval })}`);

export type { VolumeGroup, VolumeRow, OfferUsageRow };
export type CsatDashboard = CsatReport & { comments: Array<{ conversationId: string; agentId: string | null; rating: number; comment: string; answeredAt: number }> };
export const fetchCsat = (f: Filters) => api().request<CsatDashboard>('GET', `/api/v1/reports/csat?${qs(f)}`);
export const fetchVolume = (f: Filters, groupBy: VolumeGroup) =>
  api().request<{ groupBy: VolumeGroup; tz: string; items: VolumeRow[] }>('GET', `/api/v1/reports/volume?${qs(f, { groupBy })}`);
export const fetchOffers = (f: Filters) => api().request<{ items: OfferUsageRow[] }>('GET', `/api/v1/reports/offers?${qs(f)}`);

/** Downloads a report as CSV (the same query, `Accept: text/csv`). */
export async function downloadCsv(kind: 'overview' | 'agents' | 'timeseries' | 'costs' | 'volume' | 'offers' | 'csat', f: Filters, extra: Record<string, string> = {}): Promise<void> {
  const csv = await api().text(`/api/v1/reports/${kind}?${qs(f, extra)}`, 'text/csv');
  const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = `goutong-${kind}.csv`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** "1 h 05 min", "42 s", "—" in the UI language. */
export function formatDuration(seconds: number | null, locale: string): string {
  if (seconds === null) return '—';
  const zh = locale.startsWith('zh');
  if (seconds < 60) return zh ? `${seconds} 秒` : `${seconds} s`;
  const m = Math.round(seconds / 60);
  if (m < 60) return zh ? `${m} 分钟` : `${m} min`;
  const h = Math.floor(m / 60);
  const rest = String(m % 60).padStart(2, '0');
  return zh ? `${h} 小时 ${rest} 分` : `${h} h ${rest} min`;
}

export function formatPercent(r: number | null): string {
  return r === null ? '—' : `${Math.round(r * 1000) / 10}%`;
}

export function formatMoney(v: number, currency: string, locale: string): string {
  // Whole cents, or up to four decimals for amounts below them (one SMS costs 0.045).
  const fraction = v !== 0 && Math.abs(v) < 1 && Math.round(v * 100) !== v * 100 ? 4 : 2;
  return new Intl.NumberFormat(locale, { style: 'currency', currency, minimumFractionDigits: 2, maximumFractionDigits: fraction }).format(v);
}

/** The change against the previous period, as a signed percentage (null when there was nothing before). */
export function delta(now: number | null, before: number | null | undefined): number | null {
  if (now === null || before === null || before === undefined || before === 0) return null;
  return (now - before) / before;
}

/** Day boundaries of the last `days` days up to the end of today, in the browser's zone. */
export function lastDays(days: number, now = Date.now()): { from: number; to: number } {
  const end = new Date(now);
  end.setHours(24, 0, 0, 0);
  const start = new Date(end);
  start.setDate(start.getDate() - days);
  return { from: start.getTime(), to: end.getTime() };
}
