// Voice queues (IVR / ACD) on the supervisors' live board (merged into en / zh-CN in index.ts).
export const voiceQueueEn = {
  callQueue: {
    title: 'Calls in queue',
    waiting: 'Callers waiting',
    connected: 'Calls with an agent',
    longestWait: 'Longest caller wait',
    queue: 'Queue',
    none: 'No caller in a queue',
  },
};

export const voiceQueueZhCN = {
  callQueue: {
    title: '排队来电',
    waiting: '等待中的来电',
    connected: '通话中',
    longestWait: '来电最长等待',
    queue: '队列',
    none: '暂无排队来电',
  },
};
