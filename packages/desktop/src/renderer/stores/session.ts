import { defineStore } from 'pinia';
import { MfaRequiredError, type Agent } from '@goutong/core';
import { useHost, type SavedSession } from '../platform/host';
import { currentServices, serviceFactory, setServices } from '../platform/services';

export type SessionStatus = 'restoring' | 'signedOut' | 'signingIn' | 'signedIn';

/** Who is signed in, and the lifecycle of the local-first services behind them. */
export const useSessionStore = defineStore('session', {
  state: () => ({
    status: 'restoring' as SessionStatus,
    serverUrl: '',
    agent: null as Agent | null,
    tenant: null as SavedSession['tenant'] | null,
    error: null as string | null,
    /** Bumped each time services are (re)created, so views re-bind. */
    generation: 0,
    /** [accounts] The server told this device to erase its data (deactivation, remote wipe): shown on the sign-in screen. */
    wiped: false,
    /** [accounts] Set while the sign-in waits for a two-factor code. */
    mfaToken: null as string | null,
  }),
  getters: {
    agentId: (s) => s.agent?.id ?? null,
  },
  actions: {
    /** Opens the saved session (local data first, sync in the background). */
    async restore(): Promise<void> {
      const host = useHost();
      this.serverUrl = host.defaultServerUrl();
      const saved = await host.loadSession().catch(() => null);
      if (!saved) {
        this.status = 'signedOut';
        return;
      }
      try {
        await this.open(saved);
      } catch (e) {
        this.error = e instanceof Error ? e.message : String(e);
        this.status = 'signedOut';
      }
    },

    async login(serverUrl: string, email: string, password: string, code?: string): Promise<boolean> {
      this.status = 'signingIn';
      this.error = null;
      this.wiped = false;
      try {
        const mfa = code && this.mfaToken ? { token: this.mfaToken, code } : undefined;
        const saved = await serviceFactory().login(serverUrl, email, password, mfa);
        this.mfaToken = null;
        await useHost().saveSession(saved);
        await this.open(saved);
        return true;
      } catch (e) {
        // [accounts] Two-factor sign-in: the password was right, the form asks for a code next.
        if (e instanceof MfaRequiredError) this.mfaToken = e.mfaToken;
        else this.error = e instanceof Error ? e.message : String(e);
        this.status = 'signedOut';
        return false;
      }
    },

    /** [accounts] Back from the code step to the password. */
    cancelMfa(): void {
      this.mfaToken = null;
    },

    async open(saved: SavedSession): Promise<void> {
      const host = useHost();
      let current = saved;
      const services = await serviceFactory().connect(saved, {
        onSession: (session) => {
          current = { ...current, session };
          void host.saveSession(current);
        },
        onSessionExpired: () => {
          this.error = 'session expired';
        },
      });
      setServices(services);
      // [accounts] Deactivated or remotely signed out: the client wiped the local data; sign out here too.
      const stopWatch = services.client.connectivity.subscribe((c) => {
        if (!c.wiped || currentServices() !== services) return;
        stopWatch();
        this.wiped = true;
        void this.logout();
      });
      this.serverUrl = saved.serverUrl;
      this.agent = saved.agent;
      this.tenant = saved.tenant;
      this.generation++;
      this.status = 'signedIn';
    },

    async logout(): Promise<void> {
      const services = currentServices();
      setServices(null);
      this.status = 'signedOut';
      this.agent = null;
      this.tenant = null;
      await useHost().clearSession();
      if (services) {
        await services.logout().catch(() => undefined);
        // [accounts] Signing out wipes the device's local data (and its key).
        await services.client.wipeLocalData('signed out').catch(() => undefined);
        await services.dispose();
      }
    },
  },
});
