// [insight] The CSAT dashboard's figures from answer counts grouped by (agent, rating): average,
// distribution of 1–5, response rate against the surveys sent, and per agent. The server reads the
// grouped counts with one aggregate; this rule folds them (the one place these figures are made).

/** How many answers an agent (null: none assigned) got with one rating. */
export interface CsatCount {
  agentId: string | null;
  rating: number;
  n: number;
}

export interface CsatAgentRow {
  agentId: string | null;
  name: string | null;
  responses: number;
  average: number | null;
  /** Share of 4 and 5 ratings (the usual "CSAT score"). */
  satisfied: number | null;
}

export interface CsatReport {
  sent: number;
  responses: number;
  /** Answers over surveys sent in the period (null when none was sent). */
  responseRate: number | null;
  average: number | null;
  satisfied: number | null;
  /** Answers per rating, 1 to 5 (index 0 is rating 1). */
  distribution: [number, number, number, number, number];
  agents: CsatAgentRow[];
}

const round2 = (x: number): number => Math.round(x * 100) / 100;
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export function csatReport(counts: readonly CsatCount[], sent: number, nameOf: (agentId: string) => string | null = () => null): CsatReport {
  const distribution: [number, number, number, number, number] = [0, 0, 0, 0, 0];
  const perAgent = new Map<string | null, { n: number; sum: number; happy: number }>();
  for (const c of counts) {
    if (!Number.isInteger(c.rating) || c.rating < 1 || c.rating > 5 || c.n <= 0) continue;
    distribution[(c.rating - 1) as 0 | 1 | 2 | 3 | 4] += c.n;
    const a = perAgent.get(c.agentId) ?? { n: 0, sum: 0, happy: 0 };
    a.n += c.n;
    a.sum += c.rating * c.n;
    if (c.rating >= 4) a.happy += c.n;
    perAgent.set(c.agentId, a);
  }
  const responses = distribution.reduce((s, x) => s + x, 0);
  const sum = distribution.reduce((s, x, i) => s + x * (i + 1), 0);
  const agents = [...perAgent.entries()]
    .map(([agentId, a]) => ({ agentId, name: agentId === null ? null : nameOf(agentId), responses: a.n, average: round2(a.sum / a.n), satisfied: round3(a.happy / a.n) }))
    .sort((x, y) => y.responses - x.responses || (y.average ?? 0) - (x.average ?? 0) || String(x.agentId).localeCompare(String(y.agentId)));
  return {
    sent,
    responses,
    responseRate: sent > 0 ? round3(Math.min(1, responses / sent)) : null,
    average: responses > 0 ? round2(sum / responses) : null,
    satisfied: responses > 0 ? round3((distribution[3] + distribution[4]) / responses) : null,
    distribution,
    agents,
  };
}
