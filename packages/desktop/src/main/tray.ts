// The tray icon shows the number of unread conversations assigned to the agent.
import type { Tray } from 'electron';

export function unreadLabel(n: number): string {
  if (n <= 0) return 'Goutong 沟通';
  return `Goutong 沟通 — ${n > 99 ? '99+' : n} unread / 未读`;
}

export class UnreadIndicator {
  private count = 0;
  constructor(
    private readonly tray: Pick<Tray, 'setToolTip' | 'setTitle'> | null,
    private readonly setBadge: (n: number) => void,
  ) {}
  get value(): number {
    return this.count;
  }
  set(n: number): void {
    this.count = Math.max(0, Math.floor(n));
    this.tray?.setToolTip(unreadLabel(this.count));
    this.tray?.setTitle(this.count > 0 ? String(this.count > 99 ? '99+' : this.count) : '');
    this.setBadge(this.count);
  }
}
