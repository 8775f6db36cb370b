import { describe, expect, it } from 'vitest';
import { renderCanned, searchCanned, type CannedResponse } from './canned.js';

describe('canned responses', () => {
  it('fills known variables, keeps unknown ones visible', () => {
    const out = renderCanned('您好 {{contact.name}}，我是{{ agent.name }}。订单 {{contact.order}} / {{contact.vip}} / {{foo.bar}}', {
      contact: { name: '王芳', attributes: { order: '20261124' } },
      agent: { name: '张三' },
    });
    expect(out).toBe('您好 王芳，我是张三。订单 20261124 / {{contact.vip}} / {{foo.bar}}');
    expect(renderCanned('Hi {{contact.firstName}}', { contact: { name: 'Maria Garcia' } })).toBe('Hi Maria');
  });
  it('finds by short code prefix first, then by title', () => {
    const mk = (shortCode: string, title: string): CannedResponse => ({ id: shortCode, tenantId: 't', shortCode, title, body: 'x', createdAt: 0, updatedAt: 0 });
    const list = [mk('thanks', 'Thank you'), mk('refund', 'Refund policy'), mk('hello', 'Greeting: thanks for waiting')];
    expect(searchCanned(list, 'th').map((c) => c.id)).toEqual(['thanks', 'hello']);
    expect(searchCanned(list, '').map((c) => c.id)).toEqual(['hello', 'refund', 'thanks']);
  });
});
