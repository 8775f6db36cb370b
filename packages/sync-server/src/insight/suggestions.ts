import { rankIndexed, SuggestionIndex, type Agent, type Suggestion } from '@goutong/core';
import type { Workspace } from '../domain/workspace.js';
import { CannedResponses } from '../domain/canned.js';
import { latestCustomerText, pastAnswers, recordSuggestionPick, suggestionPicks } from '../domain/reports.js';
import { scopeHas } from '../domain/scope.js';

/** How many past answers a workspace's suggestions draw on. */
export const PAST_ANSWERS = 10_000;

interface HistoryIndex {
  at: number;
  index: SuggestionIndex;
  refreshing: boolean;
}

/**
 * Reply suggestions for the agent: canned responses and the team's past answers (only from inboxes
 * the agent may see) ranked by core's rankIndexed against the customer's latest messages. The past
 * answers of a workspace are indexed once (core's SuggestionIndex: tokenised, inverted) and kept; after
 * `ttlMs` the next request still answers from the kept index while a fresh one is built behind it.
 * Canned responses, few and edited by admins, are indexed per request and ranked with the past
 * answers as one corpus.
 */
export class Suggestions {
  private readonly cache = new Map<string, HistoryIndex>();
  private readonly building = new Map<string, Promise<SuggestionIndex>>();

  constructor(private readonly ws: Workspace, private readonly ttlMs = 60_000, private readonly now: () => number = Date.now) {}

  private build(tenantId: string): Promise<SuggestionIndex> {
    let b = this.building.get(tenantId);
    if (!b) {
      b = (async () => {
        const answers = await pastAnswers(this.ws.db, tenantId, PAST_ANSWERS);
        return new SuggestionIndex(answers.map((a) => ({ key: `msg:${a.messageId}`, question: a.question, text: a.answer, source: 'history' as const, inboxId: a.inboxId })));
      })().finally(() => this.building.delete(tenantId));
      this.building.set(tenantId, b);
    }
    return b;
  }

  private async history(tenantId: string): Promise<SuggestionIndex> {
    const hit = this.cache.get(tenantId);
    if (hit) {
      if (this.now() - hit.at >= this.ttlMs && !hit.refreshing) {
        hit.refreshing = true;
        this.build(tenantId).then(
          (index) => this.cache.set(tenantId, { at: this.now(), index, refreshing: false }),
          (e: unknown) => {
            hit.refreshing = false;
            this.ws.log.warn('suggestions: refreshing past answers failed', { error: String(e) });
          },
        );
      }
      return hit.index;
    }
    const index = await this.build(tenantId);
    this.cache.set(tenantId, { at: this.now(), index, refreshing: false });
    return index;
  }

  /** Forget the indexed answers (a test, or after a bulk import): the next request indexes them again. */
  invalidate(tenantId: string): void {
    this.cache.delete(tenantId);
  }

  async forConversation(agent: Agent, conversationId: string, limit = 5): Promise<{ query: string; items: Suggestion[] }> {
    const conv = await this.ws.visibleConversation(agent, conversationId);
    const query = await latestCustomerText(this.ws.db, conv.id);
    return { query, items: await this.rank(agent, query, limit) };
  }

  async rank(agent: Agent, text: string, limit = 5): Promise<Suggestion[]> {
    const [scope, canned, history, picks] = await Promise.all([
      this.ws.scope(agent),
      new CannedResponses(this.ws.db).list(agent.tenantId),
      this.history(agent.tenantId),
      suggestionPicks(this.ws.db, agent.tenantId),
    ]);
    const cannedIndex = new SuggestionIndex(canned.map((c) => ({ key: `canned:${c.id}`, question: c.title, text: c.body, source: 'canned' as const })));
    return rankIndexed(text, [cannedIndex, history], picks, limit, (c) => c.inboxId === undefined || scopeHas(scope, c.inboxId));
  }

  /** The agent used a suggestion: it ranks higher next time. */
  async picked(agent: Agent, key: string): Promise<void> {
    await recordSuggestionPick(this.ws.db, agent.tenantId, key);
  }
}
