import { DEEP_LINK_SCHEME, parseDeepLink } from '../shared/ipc';

/** The conversation a command line asks for (Windows and Linux pass deep links as arguments). */
export function deepLinkFromArgv(argv: readonly string[]): string | null {
  for (const a of argv) {
    if (!a.startsWith(`${DEEP_LINK_SCHEME}://`)) continue;
    const link = parseDeepLink(a);
    if (link) return link.conversationId;
  }
  return null;
}
