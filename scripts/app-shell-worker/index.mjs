// Builds a web app's service worker (the desktop's and the mobile H5 app's sw.js): the app's template
// with the shared app shell (shell.js) inlined at its marker, this build's file list and version.
import { readFileSync } from 'node:fs';

export const SHELL_MARKER = '/* __GOUTONG_SW_SHELL__ */';
const SHELL = readFileSync(new URL('./shell.js', import.meta.url), 'utf8');

/** The worker's source: throws when the template lacks a placeholder (a build must not ship a half-made worker). */
export function composeWorker(template, { version, files }) {
  for (const p of [SHELL_MARKER, '__GOUTONG_SW_VERSION__', '/* __GOUTONG_SW_FILES__ */ []']) {
    if (!template.includes(p)) throw new Error(`service worker template lacks ${p}`);
  }
  const source = template
    .replace(SHELL_MARKER, () => SHELL)
    .replace('__GOUTONG_SW_VERSION__', () => version)
    .replace('/* __GOUTONG_SW_FILES__ */ []', () => JSON.stringify(files));
  if (source.includes('__GOUTONG_SW_')) throw new Error('service worker template placeholders not replaced');
  return source;
}
