import { describe, expect, it } from 'vitest';
import { decideChannelWindow, WECOM_KF_QUOTA } from './channelWindow.js';

const H = 3_600_000;
const NOW = 1_700_000_000_000;

describe('channel reply windows', () => {
  it('WeChat Official Account: open for 48 hours after the last interaction, closed after with the time it closed', () => {
    const open = decideChannelWindow('wechat_official', { lastUserInteractionAt: NOW - 47 * H, now: NOW });
    expect(open).toEqual({ open: true, closesAt: NOW + H, remaining: null });
    const edge = decideChannelWindow('wechat_official', { lastUserInteractionAt: NOW - 48 * H, now: NOW });
    expect(edge.open).toBe(false);
    const closed = decideChannelWindow('wechat_official', { lastUserInteractionAt: NOW - 50 * H, now: NOW });
    expect(closed).toMatchObject({ open: false, code: 'window_closed' });
    if (!closed.open) {
      expect(closed.reason).toContain('48-hour reply window closed at 2023-11-14T20:13:20Z');
      expect(closed.reason).toContain('50 hours ago');
    }
  });

  it('an unfollowed user or one who never wrote cannot be messaged', () => {
    expect(decideChannelWindow('wechat_official', { lastUserInteractionAt: NOW - H, unsubscribed: true, now: NOW })).toMatchObject({ open: false, code: 'unsubscribed' });
    expect(decideChannelWindow('wechat_official', { lastUserInteractionAt: null, now: NOW })).toMatchObject({ open: false, code: 'no_interaction' });
  });

  it('WeCom customer service: 48 hours and at most 5 messages per customer message', () => {
    expect(decideChannelWindow('wecom_kf', { lastUserInteractionAt: NOW - H, sentSinceInteraction: 0, now: NOW })).toEqual({ open: true, closesAt: NOW + 47 * H, remaining: WECOM_KF_QUOTA });
    expect(decideChannelWindow('wecom_kf', { lastUserInteractionAt: NOW - H, sentSinceInteraction: 4, now: NOW })).toMatchObject({ open: true, remaining: 1 });
    expect(decideChannelWindow('wecom_kf', { lastUserInteractionAt: NOW - H, sentSinceInteraction: 5, now: NOW })).toMatchObject({ open: false, code: 'window_quota' });
    expect(decideChannelWindow('wecom_kf', { lastUserInteractionAt: NOW - 49 * H, sentSinceInteraction: 0, now: NOW })).toMatchObject({ open: false, code: 'window_closed' });
  });
});
