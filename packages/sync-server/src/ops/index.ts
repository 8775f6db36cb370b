// Service operations on the ops bus: one line per area, in the order their listeners run
// (automation, routing, autoreply, sla, csat). Each area's register() adds its listeners and timers.
import type { Logger } from '@goutong/core';
import type { Workspace } from '../domain/workspace.js';
import type { OpsBus } from './bus.js';
import { register as registerAutomation } from './automation.js';
import { register as registerAutoReply } from './autoreply.js';
import { register as registerCsat } from './csat.js';
import type { ServerClock } from './clock.js';
import { registerReports } from './reports.js';

export { OpsBus, type OpsContext, type OpsListener, type TimerHandler } from './bus.js';
export { serverClock, type ServerClock } from './clock.js';

export interface OpsDeps {
  workspace: Workspace;
  logger: Logger;
  clock: ServerClock;
}

export function registerOps(bus: OpsBus, deps: OpsDeps): void {
  void deps;
  registerAutomation(bus, deps);
  registerAutoReply(bus, deps);
  registerCsat(bus, deps);
  registerReports(bus);
}
