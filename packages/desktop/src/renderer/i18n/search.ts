// Messages of search results (merged into en / zh-CN in index.ts).
export const searchEn = {
  search: {
    region: 'Search results',
    results: 'No results | {n} result | {n} results',
    inConversations: 'in {n} conversation | in {n} conversations',
    searchingServer: 'Searching all history…',
    offline: 'Offline: results from this device only',
    serverFailed: 'The server search is not reachable: results from this device only',
    more: 'More results',
    none: 'No messages or contacts match “{q}”',
    field: { message: 'Message', contact: 'Contact', subject: 'Subject', ticket: 'Ticket' },
    author: { contact: 'Customer', agent: 'Agent reply', note: 'Note', system: 'System' },
    open: 'Open {name} at this result',
  },
};

export const searchZhCN: typeof searchEn = {
  search: {
    region: '搜索结果',
    results: '无结果 | {n} 条结果 | {n} 条结果',
    inConversations: '共 {n} 个会话 | 共 {n} 个会话',
    searchingServer: '正在搜索全部历史…',
    offline: '离线：仅显示本设备上的结果',
    serverFailed: '无法连接服务器搜索：仅显示本设备上的结果',
    more: '更多结果',
    none: '没有与“{q}”匹配的消息或联系人',
    field: { message: '消息', contact: '联系人', subject: '主题', ticket: '工单' },
    author: { contact: '客户', agent: '坐席回复', note: '备注', system: '系统' },
    open: '打开 {name} 并定位到此结果',
  },
};
