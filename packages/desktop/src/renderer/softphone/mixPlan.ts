// Who hears whom when the agent's client mixes audio (pure; the mixer in mixer.ts wires it with
// WebAudio). Each leg always gets the agent's microphone; on top of it:
//  - in a conference of three, each customer leg gets the other conferenced legs (each remote
//    hears the agent and the other);
//  - a supervisor's monitor leg gets the focused call's remote(s) (listen: the supervisor hears
//    caller and agent);
//  - the agent hears the focused call (all conferenced legs) and a whispering supervisor;
//  - a customer never gets a monitor leg: the caller never hears the supervisor.
export type MixLegKind = 'customer' | 'listen' | 'whisper';

export interface MixLegState {
  id: string;
  kind: MixLegKind;
  /** Answered and not on hold. */
  live: boolean;
  /** The focused call, or one of the conferenced calls. */
  focus: boolean;
}

export interface MixPlan {
  /** Per leg: the legs whose remote audio it receives besides the agent's microphone. */
  sends: Record<string, string[]>;
  /** The legs the agent hears. */
  ear: string[];
}

export function mixPlan(legs: readonly MixLegState[]): MixPlan {
  const customers = legs.filter((l) => l.kind === 'customer' && l.live && l.focus);
  const sends: Record<string, string[]> = {};
  for (const l of legs) {
    if (!l.live) sends[l.id] = [];
    else if (l.kind === 'customer') sends[l.id] = l.focus ? customers.filter((c) => c.id !== l.id).map((c) => c.id) : [];
    else sends[l.id] = customers.map((c) => c.id);
  }
  const ear = [...customers.map((c) => c.id), ...legs.filter((l) => l.kind === 'whisper' && l.live).map((l) => l.id)];
  return { sends, ear };
}
