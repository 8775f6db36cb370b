/** The Y.Text methods a composer needs (core's CollabHandle.draft returns a Y.Text). */
export interface DraftText {
  toString(): string;
  insert(index: number, text: string): void;
  delete(index: number, length: number): void;
  observe(fn: () => void): void;
  unobserve(fn: () => void): void;
  /** The Y.Doc of a Y.Text (absent on plain test doubles). */
  readonly doc?: { transact(fn: () => void): void } | null;
}

/**
 * Applies `next` to a shared text as one replace of the changed middle: the common prefix and
 * suffix stay, so what another device typed around the edit is kept.
 */
export function applyTextChange(text: Pick<DraftText, 'toString' | 'insert' | 'delete' | 'doc'>, next: string): void {
  const prev = text.toString();
  if (prev === next) return;
  let start = 0;
  while (start < prev.length && start < next.length && prev[start] === next[start]) start++;
  let endPrev = prev.length;
  let endNext = next.length;
  while (endPrev > start && endNext > start && prev[endPrev - 1] === next[endNext - 1]) {
    endPrev--;
    endNext--;
  }
  const edit = () => {
    if (endPrev > start) text.delete(start, endPrev - start);
    if (endNext > start) text.insert(start, next.slice(start, endNext));
  };
  // One Yjs transaction: other devices see one update, not a delete and an insert.
  if (text.doc) text.doc.transact(edit);
  else edit();
}

/**
 * Binds a composer's plain string to a shared draft: `set` writes the edit into the draft, and
 * `onChange` hears edits from anywhere (this device's other windows, other devices).
 */
export class DraftBinding {
  private readonly listeners = new Set<(text: string) => void>();
  private readonly observer = () => {
    const v = this.text.toString();
    for (const l of [...this.listeners]) l(v);
  };
  private bound = true;

  /** `typed`: text entered before the draft loaded; kept when the draft is still empty. */
  constructor(private readonly text: DraftText, typed = '') {
    text.observe(this.observer);
    if (typed && !text.toString()) applyTextChange(text, typed);
  }

  get value(): string {
    return this.text.toString();
  }

  set(next: string): void {
    if (this.bound) applyTextChange(this.text, next);
  }

  onChange(fn: (text: string) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  dispose(): void {
    if (!this.bound) return;
    this.bound = false;
    this.text.unobserve(this.observer);
    this.listeners.clear();
  }
}
