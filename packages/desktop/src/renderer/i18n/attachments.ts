// Messages of the composer's attachments and the upload queue (merged into en / zh-CN in index.ts).
export const attachmentsEn = {
  attach: {
    button: 'Attach files',
    input: 'Files to attach',
    picked: 'Attachments to send',
    remove: 'Remove {name}',
    tooLarge: '{name} is larger than 25 MiB and was not added',
    tooMany: 'At most {n} attachments per reply',
    noteHint: 'Internal notes have no attachments: switch to Reply to send files',
    dropHint: 'Drop files to attach them',
    waiting: 'Waiting to upload',
    uploading: 'Uploading {done}/{total}',
    uploadFailed: 'Upload failed: {reason}',
    download: 'Download {name}',
    image: 'Image {name}',
    loadFailed: 'Preview not available offline',
    queueTitle: 'Waiting to upload',
    behind: 'After the upload before it',
    files: 'no files | 1 file | {n} files',
  },
};

export const attachmentsZhCN: typeof attachmentsEn = {
  attach: {
    button: '添加附件',
    input: '要添加的文件',
    picked: '待发送的附件',
    remove: '移除 {name}',
    tooLarge: '{name} 超过 25 MiB，未添加',
    tooMany: '每条回复最多 {n} 个附件',
    noteHint: '内部备注不能带附件：切换到“回复”以发送文件',
    dropHint: '拖放文件以添加附件',
    waiting: '等待上传',
    uploading: '正在上传 {done}/{total}',
    uploadFailed: '上传失败：{reason}',
    download: '下载 {name}',
    image: '图片 {name}',
    loadFailed: '离线时无法预览',
    queueTitle: '等待上传',
    behind: '排在前一个上传之后',
    files: '无文件 | 1 个文件 | {n} 个文件',
  },
};
