// A bounded least-recently-used map: Map keeps insertion order, so a hit re-inserts its key at the end and the
// first key is always the coldest.

export class LruCache<K, V> {
  private readonly map = new Map<K, V>();
  readonly capacity: number;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`cache capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
  }

  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) {
      const coldest = this.map.keys().next();
      if (!coldest.done) this.map.delete(coldest.value);
    }
  }

  /** The least recently used value, without making it recent. */
  coldest(): V | undefined {
    const first = this.map.values().next();
    return first.done ? undefined : first.value;
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
  }
}
