// The watchers that are not needed for the first screen (notifications, the delivery tracker):
// loaded after sign-in by a dynamic import, so they stay out of the initial bundle.
export { AssignmentWatcher, DeliveryTracker, NotificationWatcher } from '@goutong/core';
