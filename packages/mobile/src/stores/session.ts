import { defineStore } from 'pinia';
import { MfaRequiredError, type Agent, type ConnectivityState } from '@goutong/core';
import { currentServices, setServices, useDevice, type SavedSession } from '../app/services';
import { useCannedStore } from './canned';
import { useMacrosStore } from './macros';
import { useNoticesStore } from './notices';
import { useUploadsStore } from './uploads';

const SESSION_KEY = 'session';
const SERVER_KEY = 'serverUrl';

export type SessionStatus = 'signedOut' | 'restoring' | 'signingIn' | 'signedIn';

const OFFLINE: ConnectivityState = { status: 'offline', pending: 0, failed: 0, lastSyncedAt: null, sessionExpired: false, updateRequired: false };

let unsubscribe: (() => void) | null = null;

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Who is signed in, to which server, and the connection state the banner shows. */
export const useSessionStore = defineStore('session', {
  state: () => ({
    status: 'signedOut' as SessionStatus,
    /** Remembered across sign-outs, so the login form is pre-filled. */
    serverUrl: '',
    agent: null as Agent | null,
    tenantName: '',
    error: null as string | null,
    connectivity: { ...OFFLINE } as ConnectivityState,
    /** [accounts] The server told this device to erase its data: the login page says so. */
    wiped: false,
    /** [accounts] Set while the sign-in waits for a two-factor code. */
    mfaToken: null as string | null,
  }),
  getters: {
    signedIn: (s) => s.status === 'signedIn',
    online: (s) => s.connectivity.status === 'online' || s.connectivity.status === 'syncing',
    agentId: (s) => s.agent?.id ?? null,
  },
  actions: {
    /** Reopens the remembered session (works offline). Returns whether someone is signed in. */
    async restore(): Promise<boolean> {
      const device = useDevice();
      this.serverUrl = device.settings.get(SERVER_KEY) ?? this.serverUrl;
      if (this.status === 'signedIn') return true;
      const text = device.settings.get(SESSION_KEY);
      if (!text) return false;
      let saved: SavedSession;
      try {
        saved = JSON.parse(text) as SavedSession;
      } catch {
        device.settings.remove(SESSION_KEY);
        return false;
      }
      this.status = 'restoring';
      try {
        await this.start(saved);
        return true;
      } catch (e) {
        this.error = messageOf(e);
        this.status = 'signedOut';
        return false;
      }
    },

    async login(serverUrl: string, email: string, password: string, code?: string): Promise<boolean> {
      const device = useDevice();
      this.status = 'signingIn';
      this.error = null;
      this.wiped = false;
      try {
        const mfa = code && this.mfaToken ? { token: this.mfaToken, code } : undefined;
        const saved = await device.login(serverUrl, email, password, mfa);
        this.mfaToken = null;
        device.settings.set(SERVER_KEY, saved.serverUrl);
        device.settings.set(SESSION_KEY, JSON.stringify(saved));
        this.serverUrl = saved.serverUrl;
        await this.start(saved);
        return true;
      } catch (e) {
        // [accounts] Two-factor sign-in: the page asks for the code next.
        if (e instanceof MfaRequiredError) this.mfaToken = e.mfaToken;
        else this.error = messageOf(e);
        this.status = 'signedOut';
        return false;
      }
    },

    async start(saved: SavedSession): Promise<void> {
      const device = useDevice();
      const services = await device.connect(saved, {
        onSession: (session) => device.settings.set(SESSION_KEY, JSON.stringify({ ...saved, session })),
        onSessionExpired: () => {
          this.connectivity = { ...this.connectivity, sessionExpired: true };
        },
      });
      setServices(services);
      // The upload queue (replies with photos, and what waits behind them) and the canned responses.
      await useUploadsStore().bind(services);
      void useCannedStore().load();
      void useMacrosStore().load();
      this.serverUrl = saved.serverUrl;
      this.agent = saved.agent;
      this.tenantName = saved.tenant.name;
      this.connectivity = { ...services.client.connectivity.value };
      unsubscribe?.();
      unsubscribe = services.client.connectivity.subscribe((c) => {
        this.connectivity = { ...c };
        // [accounts] Deactivated or signed out from another device: the local data is erased; sign out.
        if (c.wiped && currentServices() === services) {
          this.wiped = true;
          void this.logout().then(() => {
            if (typeof uni !== 'undefined') uni.reLaunch({ url: '/pages/login/index' });
          });
        }
      });
      this.status = 'signedIn';
      // Local notifications for conversations newly assigned to me, while the app runs.
      void useNoticesStore().bind(saved.agent.id);
    },

    async logout(): Promise<void> {
      unsubscribe?.();
      unsubscribe = null;
      const services = currentServices();
      useUploadsStore().unbind();
      useNoticesStore().unbind();
      useCannedStore().reset();
      useMacrosStore().reset();
      setServices(null);
      useDevice().settings.remove(SESSION_KEY);
      // [accounts] Signing out erases the device's local data (and its key).
      await services?.client.wipeLocalData('signed out').catch(() => undefined);
      await services?.dispose();
      this.agent = null;
      this.tenantName = '';
      this.status = 'signedOut';
      this.connectivity = { ...OFFLINE };
    },
  },
});
