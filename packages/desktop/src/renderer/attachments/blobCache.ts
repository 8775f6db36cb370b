// Object URLs of attachment bytes already on the device (files the agent just uploaded, thumbnails
// fetched once), so the timeline does not download the same image again on every re-render.
const MAX = 120;
const urls = new Map<string, string>();

function remember(key: string, url: string): string {
  urls.delete(key);
  urls.set(key, url);
  while (urls.size > MAX) {
    const [oldKey, oldUrl] = urls.entries().next().value as [string, string];
    urls.delete(oldKey);
    URL.revokeObjectURL(oldUrl);
  }
  return url;
}

export function cachedUrl(key: string): string | null {
  const url = urls.get(key);
  if (!url) return null;
  // Most recently used last.
  urls.delete(key);
  urls.set(key, url);
  return url;
}

export function cacheBlob(key: string, blob: Blob): string {
  const cur = urls.get(key);
  if (cur) return cur;
  return remember(key, URL.createObjectURL(blob));
}

const inflight = new Map<string, Promise<string>>();

/** The object URL for `key`, loading the bytes once (concurrent callers share the load). */
export function loadUrl(key: string, load: () => Promise<Blob | null>): Promise<string | null> {
  const hit = cachedUrl(key);
  if (hit) return Promise.resolve(hit);
  let p = inflight.get(key);
  if (!p) {
    p = load()
      .then((blob) => {
        if (!blob) throw new Error('not found');
        return cacheBlob(key, blob);
      })
      .finally(() => inflight.delete(key));
    inflight.set(key, p);
  }
  return p.catch(() => null);
}

export function clearBlobCache(): void {
  for (const url of urls.values()) URL.revokeObjectURL(url);
  urls.clear();
}
