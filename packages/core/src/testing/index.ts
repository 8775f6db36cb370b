// Test adapters and harnesses for @goutong/core: in-memory storage, fake clock, seeded network,
// and the storage conformance suite every LocalStore adapter must pass.
export * from './memoryStore.js';
export * from './fixtures.js';
export * from './storageSuite.js';
export * from './fakeClock.js';
export * from './referenceServer.js';
export * from './referenceOps.js';
export * from './opsScenario.js';
export * from './testNetwork.js';
export * from './harness.js';
export * from './uploads.js';
