// Voicemail / call recording transcripts (merged into en / zh-CN in index.ts).
export const voiceEn = {
  transcript: {
    title: 'Transcript',
    pending: 'Transcription queued',
    running: 'Transcribing…',
    done: 'Transcript',
    failed: 'Transcription failed: {reason}',
    retrying: 'Attempt {n} failed ({reason}); retrying',
    empty: '(no speech recognised)',
    seconds: '{s} s transcribed',
    retry: 'Transcribe again',
    retryFailed: 'Could not queue the transcription: {reason}',
  },
};

export const voiceZhCN = {
  transcript: {
    title: '转写',
    pending: '等待转写',
    running: '正在转写…',
    done: '转写文本',
    failed: '转写失败：{reason}',
    retrying: '第 {n} 次转写失败（{reason}），稍后重试',
    empty: '（未识别到语音）',
    seconds: '已转写 {s} 秒',
    retry: '重新转写',
    retryFailed: '无法重新转写：{reason}',
  },
};
