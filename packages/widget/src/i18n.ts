export type Locale = 'en' | 'zh-CN';

const EN = {
  title: 'Chat with us',
  open: 'Open chat',
  close: 'Close chat',
  placeholder: 'Type a message…',
  send: 'Send',
  attach: 'Attach a file',
  sending: 'Sending…',
  failed: 'Not sent',
  retry: 'Retry',
  sent: 'Sent',
  delivered: 'Delivered',
  typing: '{name} is typing…',
  agent: 'Agent',
  you: 'You',
  online: 'We are online',
  offlineTitle: 'We are away right now',
  offlineHint: 'Leave a message and how to reach you; we will answer as soon as we are back.',
  offlineSent: 'Thank you! We received your message.',
  opensAt: 'We are back {time}.',
  leaveMessage: 'Send message',
  preChatTitle: 'Before we start (optional)',
  start: 'Start chat',
  name: 'Name',
  email: 'Email',
  phone: 'Phone',
  message: 'Message',
  rateTitle: 'How did we do?',
  rateThanks: 'Thank you for your rating!',
  star: '{n} of 5',
  noConnection: 'No connection. Your messages are kept and sent when you are back online.',
  uploadFailed: 'The file could not be uploaded: {reason}',
};

const ZH: typeof EN = {
  title: '在线咨询',
  open: '打开聊天',
  close: '关闭聊天',
  placeholder: '输入消息…',
  send: '发送',
  attach: '添加附件',
  sending: '发送中…',
  failed: '未发送',
  retry: '重试',
  sent: '已发送',
  delivered: '已送达',
  typing: '{name} 正在输入…',
  agent: '客服',
  you: '我',
  online: '客服在线',
  offlineTitle: '客服暂时不在线',
  offlineHint: '请留言并留下联系方式，我们上线后会尽快回复。',
  offlineSent: '谢谢！我们已收到您的留言。',
  opensAt: '我们将于 {time} 恢复服务。',
  leaveMessage: '提交留言',
  preChatTitle: '开始前（可选）',
  start: '开始聊天',
  name: '姓名',
  email: '邮箱',
  phone: '电话',
  message: '留言',
  rateTitle: '请为本次服务评分',
  rateThanks: '感谢您的评价！',
  star: '{n} 分（满分 5 分）',
  noConnection: '网络已断开。您的消息已保存，联网后会自动发送。',
  uploadFailed: '文件上传失败：{reason}',
};

export type Key = keyof typeof EN;

/** zh-CN for pages in Chinese (`<html lang="zh">`, `zh-CN`, `zh-Hans`…), English otherwise. */
export function localeOf(lang: string | null | undefined): Locale {
  return /^zh\b/i.test(lang ?? '') ? 'zh-CN' : 'en';
}

export function translator(locale: Locale): (k: Key, vars?: Record<string, string | number>) => string {
  const table = locale === 'zh-CN' ? ZH : EN;
  return (k, vars) => table[k].replace(/\{(\w+)\}/g, (_, v: string) => String(vars?.[v] ?? ''));
}
