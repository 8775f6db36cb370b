// The decision layer: every product rule of a command or server event, once. Pure: state in, facts out.
export * from './facts.js';
export * from './commandRules.js';
export * from './eventRules.js';
export * from './businessHours.js';
export * from './ivr.js';
export * from './transcripts.js';
export * from './opsEvents.js';
export * from './channelWindow.js';
export * from './reports.js';
export * from './suggest.js';
export * from './contactMerge.js';
export * from './permissions.js';
export * from './masking.js';
export * from './routing.js';
export * from './sla.js';
export * from './lifecycle.js';
