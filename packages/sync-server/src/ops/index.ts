// Service operations on the ops bus: one line per area, in the order their listeners run
// (automation, routing, autoreply, sla, lifecycle, csat, reports). Each area's register() adds its listeners and timers.
import type { Logger } from '@goutong/core';
import type { Workspace } from '../domain/workspace.js';
import type { OpsBus } from './bus.js';
import { register as registerAutomation } from './automation.js';
import { register as registerAutoReply } from './autoreply.js';
import { register as registerCsat } from './csat.js';
import type { ServerClock } from './clock.js';
import { registerReports } from './reports.js';
import { calendarFor } from '../domain/businessHours.js';
import { register as registerRouting } from './routing.js';
import { register as registerSla } from './sla.js';
import { register as registerLifecycle } from './lifecycle.js';

export { OpsBus, type OpsContext, type OpsListener, type TimerHandler } from './bus.js';
export { serverClock, type ServerClock } from './clock.js';

export interface OpsDeps {
  workspace: Workspace;
  logger: Logger;
  clock: ServerClock;
}

export function registerOps(bus: OpsBus, deps: OpsDeps): void {
  registerAutomation(bus, deps);
  registerRouting(bus, deps);
  registerAutoReply(bus, deps);
  registerSla(bus, deps);
  registerLifecycle(bus, deps);
  registerCsat(bus, deps);
  // Last: figures count what the listeners before it decided. Times count in the conversation's calendar.
  registerReports(bus, { calendarOf: (q, c) => calendarFor(q, c.tenantId, { inboxId: c.inboxId, teamId: c.teamId }) });
}
