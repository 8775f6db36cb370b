import { ObservableValue } from '../../util/observable.js';

/**
 * The plain observable state of a view model: `getSnapshot()` returns an immutable snapshot and
 * `subscribe` is called after each change. No framework: Pinia stores and Vue refs (3.4 on mobile,
 * 3.5 on desktop) wrap it; a snapshot is replaced, never mutated, so `===` tells whether it changed.
 */
export class ViewState<T extends object> {
  private readonly cell: ObservableValue<T>;

  constructor(initial: T) {
    this.cell = new ObservableValue<T>(Object.freeze({ ...initial }));
  }

  getSnapshot(): T {
    return this.cell.value;
  }

  /** Merges `patch` into a new snapshot and notifies (nothing happens when no field changes). */
  set(patch: Partial<T>): void {
    const cur = this.cell.value;
    let changed = false;
    for (const k of Object.keys(patch) as Array<keyof T>) {
      if (!Object.is(cur[k], patch[k])) {
        changed = true;
        break;
      }
    }
    if (changed) this.cell.set(Object.freeze({ ...cur, ...patch }));
  }

  subscribe(listener: (snapshot: T) => void): () => void {
    return this.cell.subscribe(listener);
  }
}
