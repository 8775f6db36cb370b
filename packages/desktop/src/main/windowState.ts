// Remembers the window's size, position and maximised state between launches, and puts a window
// whose display is gone back on a visible screen.
import { z } from 'zod';
import type { Rectangle } from 'electron';

export const WindowStateSchema = z.object({
  x: z.number().int().optional(),
  y: z.number().int().optional(),
  width: z.number().int().min(400).max(20_000),
  height: z.number().int().min(300).max(20_000),
  maximized: z.boolean().default(false),
});
export type WindowState = z.infer<typeof WindowStateSchema>;

export const DEFAULT_WINDOW_STATE: WindowState = { width: 1280, height: 820, maximized: false };

export interface WindowLike {
  getNormalBounds(): Rectangle;
  isMaximized(): boolean;
  on(event: 'resize' | 'move' | 'close', listener: () => void): unknown;
}

export function loadWindowState(raw: string | null, workAreas: readonly Rectangle[]): WindowState {
  let state = DEFAULT_WINDOW_STATE;
  if (raw) {
    try {
      const parsed = WindowStateSchema.safeParse(JSON.parse(raw));
      if (parsed.success) state = parsed.data;
    } catch {
      /* default */
    }
  }
  if (state.x === undefined || state.y === undefined) return state;
  const { x, y, width } = state as Required<WindowState>;
  // Visible when at least 100×50 px of the title bar area is on some display.
  const visible = workAreas.some((a) => x + width - 100 >= a.x && x + 100 <= a.x + a.width && y >= a.y - 10 && y + 50 <= a.y + a.height);
  if (visible) return state;
  const { x: _x, y: _y, ...rest } = state;
  return rest;
}

/** Saves the state (debounced) whenever the window moves or resizes, and on close. */
export function trackWindowState(win: WindowLike, save: (state: WindowState) => void, debounceMs = 500): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const snapshot = () => {
    const b = win.getNormalBounds();
    save({ x: b.x, y: b.y, width: b.width, height: b.height, maximized: win.isMaximized() });
  };
  const later = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(snapshot, debounceMs);
  };
  win.on('resize', later);
  win.on('move', later);
  win.on('close', () => {
    if (timer) clearTimeout(timer);
    snapshot();
  });
  return () => {
    if (timer) clearTimeout(timer);
  };
}
