import { defineStore } from 'pinia';
import { offersFor, segmentsOf, sortFields, type Contact, type ContactField, type Offer, type Segment } from '@goutong/core';
import { currentServices } from '../platform/services';

const CACHE_KEY = 'desktop.targeting';
/** Asked again at most this often (panel opened, reconnects). */
const REFRESH_EVERY_MS = 30_000;
let lastFetch = 0;
let unsub: (() => void) | null = null;

interface Cached {
  fields: ContactField[];
  segments: Segment[];
  offers: Offer[];
}

/**
 * [fields] The tenant's custom contact fields, segments and targeted offers, read from the server
 * when online and kept in the local database for offline use (like canned responses). Which
 * segments a customer is in and which offers apply are core's rules (`segmentsOf`, `offersFor`).
 */
export const useTargetingStore = defineStore('targeting', {
  state: () => ({
    fields: [] as ContactField[],
    segments: [] as Segment[],
    offers: [] as Offer[],
    known: false,
  }),
  actions: {
    async bind(): Promise<void> {
      this.unbind();
      lastFetch = 0;
      const s = currentServices();
      if (!s) return;
      const cached = await s.store.getMeta<Cached>(CACHE_KEY).catch(() => null);
      if (cached && Array.isArray(cached.fields)) this.put(cached);
      let wasOnline = false;
      unsub = s.client.connectivity.subscribe((c) => {
        const online = c.status === 'online';
        if (online && !wasOnline) void this.refresh(true);
        wasOnline = online;
      });
      await this.refresh(true);
    },

    unbind(): void {
      unsub?.();
      unsub = null;
      this.fields = [];
      this.segments = [];
      this.offers = [];
      this.known = false;
    },

    put(c: Cached): void {
      this.fields = sortFields(c.fields);
      this.segments = c.segments;
      this.offers = c.offers;
      this.known = true;
    },

    /** Asks the server (when it can and did not just do so); failures keep what we have. */
    async refresh(force = false): Promise<void> {
      const s = currentServices();
      if (!s?.api || s.client.connectivity.value.status === 'offline') return;
      if (!force && Date.now() - lastFetch < REFRESH_EVERY_MS) return;
      lastFetch = Date.now();
      try {
        const [f, g, o] = await Promise.all([
          s.api.request<{ items: ContactField[] }>('GET', '/api/v1/contact-fields'),
          s.api.request<{ items: Segment[] }>('GET', '/api/v1/segments'),
          s.api.request<{ items: Offer[] }>('GET', '/api/v1/offers'),
        ]);
        const c: Cached = { fields: f.items, segments: g.items, offers: o.items };
        this.put(c);
        await s.store.setMeta(CACHE_KEY, c).catch(() => undefined);
      } catch {
        /* offline or not reachable: the cached lists stay */
      }
    },

    /** The segments a customer is in (the panel's tags). */
    segmentsOf(contact: Pick<Contact, 'attributes' | 'identities'>, lastContactedAt: number | null): Segment[] {
      return segmentsOf(this.segments, { contact, lastContactedAt, now: Date.now() });
    },

    /** The live offers whose segment the customer is in (the composer's chips). */
    offersFor(contact: Pick<Contact, 'attributes' | 'identities'>, lastContactedAt: number | null): Offer[] {
      return offersFor(this.offers, this.segments, { contact, lastContactedAt, now: Date.now() });
    },
  },
});
