import { defineStore } from 'pinia';
import { ContactField, Offer, Segment, normalizeFieldValue, offersFor, segmentsOf, sortFields, type Contact } from '@goutong/core';
import { currentServices, requireServices, useDevice } from '../app/services';

/** [fields] The tenant's custom contact fields and segments as last fetched, in the local store's meta: they work offline. */
export const TARGETING_META_KEY = 'mobile.targeting';
/** Re-fetch when the cached lists are older than this (and the device is online). */
export const TARGETING_MAX_AGE_MS = 10 * 60_000;

interface Cached {
  fields: ContactField[];
  segments: Segment[];
  /** [offers] absent in lists cached before offers existed. */
  offers?: Offer[];
  fetchedAt: number;
}

/** The items of a list answer, each parsed with core's schema (anything malformed is left out). */
function parseItems<T>(json: unknown, parse: (x: unknown) => { success: boolean; data?: T }): T[] {
  const items = (json as { items?: unknown } | null)?.items;
  if (!Array.isArray(items)) return [];
  return items.flatMap((x: unknown) => {
    const r = parse(x);
    return r.success && r.data !== undefined ? [r.data] : [];
  });
}

/** The changed values of a field form, checked with core's field rule: `{attributes}` to send, or `{errors}` by key. */
export function fieldChanges(
  fields: readonly ContactField[],
  current: Readonly<Record<string, string>>,
  draft: Readonly<Record<string, string>>,
): { attributes: Record<string, string>; errors: Record<string, string> } {
  const attributes: Record<string, string> = {};
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const raw = draft[f.key] ?? '';
    if (raw === (current[f.key] ?? '')) continue;
    const r = normalizeFieldValue(f, raw);
    if (!r.ok) errors[f.key] = r.message;
    else if (r.value === '' && f.required) errors[f.key] = 'required';
    else attributes[f.key] = r.value;
  }
  return { attributes, errors };
}

export const useTargetingStore = defineStore('targeting', {
  state: () => ({
    fields: [] as ContactField[],
    segments: [] as Segment[],
    offers: [] as Offer[],
    fetchedAt: null as number | null,
  }),
  actions: {
    async load(opts: { force?: boolean } = {}): Promise<void> {
      const services = currentServices();
      if (!services) return;
      if (this.fetchedAt === null) {
        const cached = (await services.store.getMeta<Cached>(TARGETING_META_KEY)) ?? null;
        if (cached && Array.isArray(cached.fields)) {
          this.fields = sortFields(cached.fields);
          this.segments = cached.segments;
          this.offers = cached.offers ?? [];
          this.fetchedAt = cached.fetchedAt;
        }
      }
      const stale = this.fetchedAt === null || useDevice().now() - this.fetchedAt > TARGETING_MAX_AGE_MS;
      if ((opts.force || stale) && services.network.isOnline()) await this.refresh();
    },

    async refresh(): Promise<void> {
      const services = currentServices();
      if (!services) return;
      try {
        const [f, g, o] = await Promise.all([services.api.getJson('/api/v1/contact-fields'), services.api.getJson('/api/v1/segments'), services.api.getJson('/api/v1/offers')]);
        const c: Cached = {
          fields: sortFields(parseItems(f, (x) => ContactField.safeParse(x))), segments: parseItems(g, (x) => Segment.safeParse(x)),
          offers: parseItems(o, (x) => Offer.safeParse(x)), fetchedAt: useDevice().now(),
        };
        await services.store.setMeta(TARGETING_META_KEY, c);
        this.fields = c.fields;
        this.segments = c.segments;
        this.offers = c.offers ?? [];
        this.fetchedAt = c.fetchedAt;
      } catch {
        // Offline or the server is away: the cached lists stay.
      }
    },

    /** The segments a customer is in (core's rule, on the device). */
    segmentsOf(contact: Pick<Contact, 'attributes' | 'identities'>, lastContactedAt: number | null): Segment[] {
      return segmentsOf(this.segments, { contact, lastContactedAt, now: useDevice().now() });
    },

    /** [offers] The live offers of the segments the customer is in (core `offersFor`, on the device). */
    offersFor(contact: Pick<Contact, 'attributes' | 'identities'>, lastContactedAt: number | null): Offer[] {
      return offersFor(this.offers, this.segments, { contact, lastContactedAt, now: useDevice().now() });
    },

    /** Sends the changed attributes as an update_contact intent (the outbox keeps it while offline). */
    async save(contactId: string, attributes: Record<string, string>): Promise<void> {
      if (Object.keys(attributes).length === 0) return;
      await requireServices().client.dispatch({ type: 'update_contact', contactId, attributes });
    },
  },
});
