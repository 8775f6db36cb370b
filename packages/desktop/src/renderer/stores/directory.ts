import { defineStore } from 'pinia';
import type { Agent, Inbox, Team } from '@goutong/core';
import { currentServices, onClientChange } from '../platform/services';

let unbind: (() => void) | null = null;

/** Agents, teams and inboxes in the signed-in agent's scope (replicated facts). */
export const useDirectoryStore = defineStore('directory', {
  state: () => ({ agents: [] as Agent[], teams: [] as Team[], inboxes: [] as Inbox[] }),
  getters: {
    agentName: (s) => (id: string | null) => (id ? (s.agents.find((a) => a.id === id)?.name ?? id.slice(0, 8)) : null),
    labels(): string[] {
      return [];
    },
  },
  actions: {
    async bind(): Promise<void> {
      unbind?.();
      unbind = onClientChange((c) => {
        if (c.directory || c.reset) void this.load();
      });
      await this.load();
    },
    unbind(): void {
      unbind?.();
      unbind = null;
    },
    async load(): Promise<void> {
      const s = currentServices();
      if (!s) return;
      const [agents, teams, inboxes] = await Promise.all([s.store.listAgents(), s.store.listTeams(), s.store.listInboxes()]);
      this.agents = agents.filter((a) => a.active).sort((a, b) => a.name.localeCompare(b.name));
      this.teams = teams.sort((a, b) => a.name.localeCompare(b.name));
      this.inboxes = inboxes.sort((a, b) => a.name.localeCompare(b.name));
    },
  },
});
