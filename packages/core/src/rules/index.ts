// The decision layer: every product rule of a command or server event, once. Pure: state in, facts out.
export * from './facts.js';
export * from './commandRules.js';
export * from './eventRules.js';
export * from './businessHours.js';
export * from './templates.js';
export * from './tickets.js';
export * from './autoReply.js';
export * from './automation.js';
export * from './csat.js';
export * from './opsEvents.js';
export * from './channelWindow.js';
export * from './reports.js';
export * from './suggest.js';
export * from './contactMerge.js';
