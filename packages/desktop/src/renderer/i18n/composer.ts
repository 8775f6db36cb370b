// The composer's first-screen messages (the caret picker, mentions); the rest is in composerMore.ts,
// loaded with the parts that use it.
export const composerEn = {
  compose: {
    cannedPicker: 'Canned responses',
    mentionPicker: 'Mention an agent',
    noMatch: 'No match',
    pickerHint: '↑↓ to choose, Enter to insert, Esc to close',
    emoji: 'Emoji',
    mentioned: 'Mentions: {names}',
    bulkHint: 'x or Space selects, Shift+click a range',
  },
};

export const composerZhCN: typeof composerEn = {
  compose: {
    cannedPicker: '快捷回复',
    mentionPicker: '提及坐席',
    noMatch: '无匹配项',
    pickerHint: '↑↓ 选择，回车插入，Esc 关闭',
    emoji: '表情',
    mentioned: '提及：{names}',
    bulkHint: 'x 或空格选择，Shift+点击选择范围',
  },
};
