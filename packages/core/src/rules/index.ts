// The decision layer: every product rule of a command or server event, once. Pure: state in, facts out.
export * from './facts.js';
export * from './commandRules.js';
export * from './eventRules.js';
export * from './accountRules.js';
