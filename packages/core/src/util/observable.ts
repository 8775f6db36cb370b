export type Listener<T> = (value: T) => void;
export type Unsubscribe = () => void;

/** A minimal observable value: the current value plus change notifications. */
export interface ReadonlyObservable<T> {
  readonly value: T;
  subscribe(listener: Listener<T>): Unsubscribe;
}

export class ObservableValue<T> implements ReadonlyObservable<T> {
  private readonly listeners = new Set<Listener<T>>();
  constructor(private current: T, private readonly equals: (a: T, b: T) => boolean = Object.is) {}

  get value(): T {
    return this.current;
  }

  set(next: T): void {
    if (this.equals(this.current, next)) return;
    this.current = next;
    for (const l of [...this.listeners]) l(next);
  }

  subscribe(listener: Listener<T>): Unsubscribe {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** A fan-out event emitter for a single event type. */
export class Emitter<T> {
  private readonly listeners = new Set<Listener<T>>();
  on(listener: Listener<T>): Unsubscribe {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  emit(value: T): void {
    for (const l of [...this.listeners]) l(value);
  }
  get size(): number {
    return this.listeners.size;
  }
}
