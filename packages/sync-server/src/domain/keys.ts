import type { Db } from '../db/db.js';
import { resealValue, sealedValues } from './agentAdmin.js';

/**
 * [accounts] Master key rotation: every sealed value (provider secrets, two-factor secrets) is
 * opened with the old key and sealed with the new one, and the key fingerprint replaced, in ONE
 * transaction. Safe to re-run: a value the new key opens already is left as it is, and a database
 * whose fingerprint is the new key's is finished (values still sealed with the old key are redone).
 */
export async function rotateSealedValues(
  db: Db,
  o: { oldCheck: string | null; newCheck: string; openOld: (sealed: string) => string; openNew: (sealed: string) => string; sealNew: (plain: string) => string },
): Promise<{ resealed: number; alreadyNew: number; state: 'rotated' | 'already-rotated' }> {
  return db.tx(async (q) => {
    const recorded = (await q.one<{ value: string }>("SELECT value FROM settings WHERE key = 'server_key_check'"))?.value ?? null;
    if (recorded !== null && recorded !== o.newCheck && recorded !== o.oldCheck) {
      throw new Error('the current key is not the one this database was set up with (its fingerprint differs): give the current key through GOUTONG_SECRET, GOUTONG_SECRET_FILE or the data directory');
    }
    let resealed = 0;
    let alreadyNew = 0;
    for (const v of await sealedValues(q)) {
      try {
        o.openNew(v.sealed);
        alreadyNew++;
        continue;
      } catch {
        /* not sealed with the new key yet */
      }
      await resealValue(q, { ...v, sealed: o.sealNew(o.openOld(v.sealed)) });
      resealed++;
    }
    await q.run("DELETE FROM settings WHERE key = 'server_key_check'");
    await q.run("INSERT INTO settings (key, value) VALUES ('server_key_check', ?)", [o.newCheck]);
    return { resealed, alreadyNew, state: recorded === o.newCheck ? 'already-rotated' : 'rotated' };
  });
}
