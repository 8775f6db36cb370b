export function ensureBuilt(log?: (s: string) => void, opts?: { server?: boolean }): void;
