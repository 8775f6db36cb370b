import { rankSuggestions, type Agent, type Suggestion, type SuggestionCandidate } from '@goutong/core';
import type { Workspace } from '../domain/workspace.js';
import { CannedResponses } from '../domain/canned.js';
import { latestCustomerText, pastAnswers, recordSuggestionPick, suggestionPicks, type PastAnswer } from '../domain/reports.js';
import { scopeHas } from '../domain/scope.js';

/** How many past answers a workspace's suggestions draw on. */
export const PAST_ANSWERS = 10_000;

/**
 * Reply suggestions for the agent: canned responses and the team's past answers (only from inboxes
 * the agent may see) ranked by core's rankSuggestions against the customer's latest messages. The
 * past answers of a workspace are loaded at most once per `ttlMs` (the rest is ranking in memory).
 */
export class Suggestions {
  private readonly cache = new Map<string, { at: number; answers: PastAnswer[] }>();

  constructor(private readonly ws: Workspace, private readonly ttlMs = 60_000, private readonly now: () => number = Date.now) {}

  private async answers(tenantId: string): Promise<PastAnswer[]> {
    const hit = this.cache.get(tenantId);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.answers;
    const answers = await pastAnswers(this.ws.db, tenantId, PAST_ANSWERS);
    this.cache.set(tenantId, { at: this.now(), answers });
    return answers;
  }

  /** Forget cached answers (a test, or after a bulk import). */
  invalidate(tenantId: string): void {
    this.cache.delete(tenantId);
  }

  async forConversation(agent: Agent, conversationId: string, limit = 5): Promise<{ query: string; items: Suggestion[] }> {
    const conv = await this.ws.visibleConversation(agent, conversationId);
    const query = await latestCustomerText(this.ws.db, conv.id);
    return { query, items: await this.rank(agent, query, limit) };
  }

  async rank(agent: Agent, text: string, limit = 5): Promise<Suggestion[]> {
    const scope = await this.ws.scope(agent);
    const canned = await new CannedResponses(this.ws.db).list(agent.tenantId);
    const candidates: SuggestionCandidate[] = [
      ...canned.map((c) => ({ key: `canned:${c.id}`, question: c.title, text: c.body, source: 'canned' as const })),
      ...(await this.answers(agent.tenantId))
        .filter((a) => scopeHas(scope, a.inboxId))
        .map((a) => ({ key: `msg:${a.messageId}`, question: a.question, text: a.answer, source: 'history' as const })),
    ];
    return rankSuggestions(text, candidates, await suggestionPicks(this.ws.db, agent.tenantId), limit);
  }

  /** The agent used a suggestion: it ranks higher next time. */
  async picked(agent: Agent, key: string): Promise<void> {
    await recordSuggestionPick(this.ws.db, agent.tenantId, key);
  }
}
