// Client view models shared by the desktop and mobile apps: plain observable state (no Vue), each
// wrapped by a thin store in the app.
export * from './store.js';
export * from './ports.js';
export * from './changeStream.js';
export * from './draftText.js';
export * from './delivery.js';
export * from './readState.js';
export * from './notificationPolicy.js';
export * from './assignmentWatcher.js';
export * from './notifications.js';
export * from './deliveryTracker.js';
export * from './inboxWindow.js';
export * from './conversationView.js';
export * from './contacts360.js';
