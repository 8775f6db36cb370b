import type { Browser, BrowserContext } from 'playwright-core';
export const RENDERER_DIR: string;
export const HARNESS_DIR: string;
export const OFFLINE_ORIGIN: string;
export const CHROMIUM_ARGS: string[];
export function launchChromium(): Promise<Browser>;
export function serveOffline(context: BrowserContext, origin?: string): Promise<void>;
export function seedLocal(context: BrowserContext, o: { count: number; origin?: string; seed?: number }): Promise<{ ms: number; name: string }>;
