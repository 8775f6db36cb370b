/** Marks a switch over a union as exhaustive: adding a member becomes a type error here. */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`Unhandled ${what}: ${JSON.stringify(value)}`);
}
