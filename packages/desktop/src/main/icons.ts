// The app's icon files at run time (rendered from build/source/*.svg by scripts/icons.mjs):
// packaged, they are in the resources folder (electron-builder `extraResources`: build/tray and
// build/icons → <resources>/icons); from a checkout, in build/ next to dist/.
import path from 'node:path';

export interface IconPaths {
  /** The tray image: a template image on macOS (black, the system tints it), the teal one elsewhere. */
  tray: string;
  /** The window icon (Linux and Windows title bars and task switchers; macOS uses the bundle's icns). */
  window: string;
}

export function iconPaths(o: { packaged: boolean; resourcesPath: string; mainDir: string; platform: NodeJS.Platform }): IconPaths {
  const root = o.packaged ? path.join(o.resourcesPath, 'icons') : path.resolve(o.mainDir, '../../build');
  const trayDir = o.packaged ? root : path.join(root, 'tray');
  const sizes = o.packaged ? root : path.join(root, 'icons');
  return {
    tray: path.join(trayDir, o.platform === 'darwin' ? 'trayTemplate.png' : 'tray.png'),
    window: path.join(sizes, '256x256.png'),
  };
}
