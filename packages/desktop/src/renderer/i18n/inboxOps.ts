// An inbox's business hours and automatic replies (zh-CN and en).
const en = {
  inboxOps: {
    title: 'Business hours and automatic replies',
    businessHours: 'Business hours',
    alwaysOpen: 'Always open (no calendar)',
    acknowledge: 'First-contact acknowledgement',
    outOfHours: 'Out-of-hours reply',
    off: 'Off',
    template: 'Template',
    text: 'Text written here',
    hint: 'Sent in the customer’s language, at most once per conversation per window, never to automatic mail, bounces or opted-out contacts. Template variables (the contact’s name, the next opening time …) are filled in.',
    save: 'Save hours and replies',
    saved: 'Saved.',
  },
};

const zhCN: typeof en = {
  inboxOps: {
    title: '营业时间与自动回复',
    businessHours: '营业时间',
    alwaysOpen: '全天营业（无日历）',
    acknowledge: '首次联系确认',
    outOfHours: '非营业时间回复',
    off: '关闭',
    template: '模板',
    text: '在此填写文字',
    hint: '按客户的语言发送，每个会话在时间窗口内最多一次，不回复自动邮件、退信和已退订的联系人。模板变量（联系人姓名、下次营业时间等）会自动填入。',
    save: '保存营业时间与回复',
    saved: '已保存。',
  },
};

export const inboxOpsEn = en;
export const inboxOpsZhCN = zhCN;
