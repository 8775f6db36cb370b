// Messages of the website chat's embed snippet in the inbox admin (merged into en / zh-CN in index.ts).
export const webchatEn = {
  webchat: {
    snippetTitle: 'Embed the chat on your website',
    snippetHint: 'Paste this before </body> on every page of the site. The site must be listed under "Allowed website origins".',
    snippetLabel: 'Widget snippet',
    visitorTyping: 'The visitor is typing…',
    identityHint: 'Signed-in users: add data-identifier="<user id>" and data-identifier-hash="<HMAC-SHA256 of the user id with the identity secret, hex>", computed on your server.',
  },
};

export const webchatZhCN: typeof webchatEn = {
  webchat: {
    snippetTitle: '在网站上嵌入聊天窗口',
    snippetHint: '将以下代码粘贴到网站每个页面的 </body> 之前。网站地址须在“允许嵌入的网站来源”中。',
    snippetLabel: '聊天窗口代码',
    visitorTyping: '访客正在输入…',
    identityHint: '已登录用户：添加 data-identifier="<用户 ID>" 和 data-identifier-hash="<用身份密钥对用户 ID 做 HMAC-SHA256 的十六进制结果>"，在您的服务器上计算。',
  },
};
