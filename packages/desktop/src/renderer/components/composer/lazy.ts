// The composer's parts that are not needed for the first paint, in one lazy chunk (one request,
// one shared set of store imports): the caret picker, the emoji grid, the SMS counter, the macro
// menu, the inbox's saved views and bulk toolbar.
export { default as CaretPicker } from './CaretPicker.vue';
export { default as EmojiPicker } from './EmojiPicker.vue';
export { default as SmsCounter } from './SmsCounter.vue';
export { default as MacroMenu } from './MacroMenu.vue';
export { default as SavedViewsNav } from '../inbox/SavedViewsNav.vue';
export { default as BulkBar } from '../inbox/BulkBar.vue';
