// A stand-in for uni-app's synchronous storage API, with WeChat's limits when asked for them:
// setStorageSync throws when one value (key + data) is over `maxValueBytes` or the total over `quotaBytes`.
import { utf8Length } from '../src/storage/codec';
import type { UniStorageApi } from '../src/storage/uniKv';

export interface UniStorageStub extends UniStorageApi {
  readonly data: Map<string, unknown>;
  bytes(): number;
  writes: number;
}

export function createUniStorageStub(limits: { maxValueBytes?: number; quotaBytes?: number } = {}, data = new Map<string, unknown>()): UniStorageStub {
  const size = (k: string, v: unknown) => utf8Length(k) + utf8Length(typeof v === 'string' ? v : JSON.stringify(v));
  let total = 0;
  for (const [k, v] of data) total += size(k, v);
  const stub: UniStorageStub = {
    data,
    writes: 0,
    bytes() {
      return total;
    },
    getStorageSync(key) {
      // uni returns "" for a missing key.
      return data.has(key) ? data.get(key) : '';
    },
    setStorageSync(key, value) {
      const s = size(key, value);
      if (limits.maxValueBytes !== undefined && s > limits.maxValueBytes) throw new Error(`setStorageSync:fail data of ${key} is over ${limits.maxValueBytes} bytes`);
      if (limits.quotaBytes !== undefined && stub.bytes() - (data.has(key) ? size(key, data.get(key)) : 0) + s > limits.quotaBytes) {
        throw new Error('setStorageSync:fail exceed storage max size 10MB');
      }
      stub.writes++;
      total += s - (data.has(key) ? size(key, data.get(key)) : 0);
      data.set(key, value);
    },
    removeStorageSync(key) {
      if (data.has(key)) total -= size(key, data.get(key));
      data.delete(key);
    },
    getStorageInfoSync() {
      return { keys: [...data.keys()], currentSize: Math.ceil(stub.bytes() / 1024), limitSize: limits.quotaBytes === undefined ? 10240 : Math.floor(limits.quotaBytes / 1024) };
    },
  };
  return stub;
}
