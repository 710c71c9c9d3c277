/**
 * The delivery engine's small pure parts: how an answer is classified, how long a retry
 * waits, how Retry-After is read, and the two data structures the pipeline runs on.
 */
import { backoffDelay, classify, parseRetryAfter } from '../../src/delivery/retry-policy.js';
import { Deque } from '../../src/delivery/deque.js';
import { EpochTracker } from '../../src/delivery/epoch-tracker.js';
import type { TransportOutcome } from '../../src/interfaces/event-delivery.interface.js';

const answer = (status: number): TransportOutcome => ({ kind: 'response', status, body: '' });

describe('classify()', () => {
  it.each([200, 201, 202, 204, 299])('%i is delivered', (status) => {
    expect(classify(answer(status))).toBe('delivered');
  });

  it.each([408, 429, 500, 502, 503, 504, 599])('%i is transient: retry', (status) => {
    expect(classify(answer(status))).toBe('retry');
  });

  it.each([400, 413, 422])('%i refuses the body as a whole: split the batch', (status) => {
    expect(classify(answer(status))).toBe('split');
  });

  it.each([401, 403])('%i is a configuration problem: unauthorized, never retried', (status) => {
    expect(classify(answer(status))).toBe('unauthorized');
  });

  it.each([404, 405, 409, 410, 415, 302, 301, 100])('%i is permanent for that request: reject', (status) => {
    expect(classify(answer(status))).toBe('reject');
  });

  it.each(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'ERR_NETWORK', 'ERR_CANCELED'])(
    'network error %s is transient: retry',
    (code) => {
      expect(classify({ kind: 'network', code, message: 'x' })).toBe('retry');
    },
  );
});

describe('backoffDelay(): exponential with full jitter', () => {
  const justBelowOne = () => 1 - Number.EPSILON;

  it('is 0 when the random draw is 0, whatever the attempt', () => {
    for (const attempt of [0, 1, 5, 40]) expect(backoffDelay(attempt, 100, 10_000, () => 0)).toBe(0);
  });

  it('stays below base * 2^attempt, and reaches just under it with the highest draw', () => {
    expect(backoffDelay(0, 100, 10_000, justBelowOne)).toBe(99);
    expect(backoffDelay(1, 100, 10_000, justBelowOne)).toBe(199);
    expect(backoffDelay(3, 100, 10_000, justBelowOne)).toBe(799);
  });

  it('is capped by the max delay, also for huge attempt numbers (no Infinity, no NaN)', () => {
    expect(backoffDelay(7, 100, 10_000, justBelowOne)).toBe(9_999); // 100 * 128 = 12800 > cap
    expect(backoffDelay(10_000, 100, 10_000, justBelowOne)).toBe(9_999);
    expect(backoffDelay(10_000, 100, 10_000, () => 0.5)).toBe(5_000);
  });

  it('spreads uniformly: the draw scales the ceiling linearly', () => {
    const draws = [0.1, 0.25, 0.5, 0.75, 0.9];
    expect(draws.map((r) => backoffDelay(2, 100, 10_000, () => r))).toEqual([40, 100, 200, 300, 360]);
  });

  it('with Math.random, every delay lies in [0, ceiling)', () => {
    const outOfBounds: string[] = [];
    for (let i = 0; i < 1_000; i++) {
      const attempt = i % 12;
      const delay = backoffDelay(attempt, 10, 2_000);
      const ceiling = Math.min(2_000, 10 * 2 ** attempt);
      if (!(Number.isInteger(delay) && delay >= 0 && delay < ceiling)) outOfBounds.push(`attempt ${attempt}: ${delay}`);
    }
    expect(outOfBounds).toEqual([]);
  });
});

describe('parseRetryAfter()', () => {
  const now = Date.UTC(2026, 0, 15, 12, 0, 0);

  it('reads delay-seconds', () => {
    expect(parseRetryAfter('1', now)).toBe(1_000);
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 30 ', now)).toBe(30_000);
    expect(parseRetryAfter('0', now)).toBe(0);
  });

  it('reads an HTTP-date as the time left until it', () => {
    expect(parseRetryAfter('Thu, 15 Jan 2026 12:00:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfter(new Date(now + 90_000).toUTCString(), now)).toBe(90_000);
    // The obsolete RFC 850 form HTTP still allows.
    expect(parseRetryAfter('Thursday, 15-Jan-26 12:00:10 GMT', now)).toBe(10_000);
  });

  it('treats a date in the past as "now" (0), never as a negative delay', () => {
    expect(parseRetryAfter('Thu, 15 Jan 2026 11:59:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('Mon, 01 Jan 2001 00:00:00 GMT', now)).toBe(0);
  });

  it('returns undefined when absent or not a Retry-After value, so normal backoff applies', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    for (const garbage of [
      '',
      '   ',
      'soon',
      'later please',
      '1e3',
      'Infinity',
      '-1',
      '1.5',
      '+5',
      '0x10',
      '2026-01-15T12:00:05Z',
      'Thu, 99 Foo 2026 GMT',
    ]) {
      expect([garbage, parseRetryAfter(garbage, now)]).toEqual([garbage, undefined]);
    }
  });
});

describe('Deque', () => {
  /** The backing array, to check that memory follows the live length. */
  const backing = (d: Deque<number>) => (d as unknown as { items: unknown[] }).items;
  const drainAll = (d: Deque<number>) => {
    const out: number[] = [];
    for (let v = d.shift(); v !== undefined; v = d.shift()) out.push(v);
    return out;
  };

  it('is a FIFO: push, peek, shift, length', () => {
    const d = new Deque<number>();
    expect(d.length).toBe(0);
    expect(d.peek()).toBeUndefined();
    expect(d.shift()).toBeUndefined();
    d.push(1);
    d.push(2);
    d.push(3);
    expect(d.length).toBe(3);
    expect(d.peek()).toBe(1);
    expect(d.shift()).toBe(1);
    expect(d.peek()).toBe(2);
    expect(d.length).toBe(2);
    expect(drainAll(d)).toEqual([2, 3]);
    expect(d.length).toBe(0);
  });

  it('unshiftAll puts items back at the front, in order, into the space already shifted out', () => {
    const d = new Deque<number>();
    for (let i = 0; i < 6; i++) d.push(i);
    d.shift();
    d.shift();
    d.shift(); // [3, 4, 5], three dead slots in front
    d.unshiftAll([10, 11]);
    expect(d.length).toBe(5);
    expect(backing(d)).toHaveLength(6); // reused the dead prefix, did not grow
    expect(drainAll(d)).toEqual([10, 11, 3, 4, 5]);
  });

  it('unshiftAll with more items than the free front space rebuilds, still in order', () => {
    const d = new Deque<number>();
    d.push(1);
    d.push(2);
    d.shift(); // [2]
    d.unshiftAll([7, 8, 9]);
    expect(d.peek()).toBe(7);
    expect(d.length).toBe(4);
    d.unshiftAll([]);
    expect(drainAll(d)).toEqual([7, 8, 9, 2]);
  });

  it('compacts once most of its backing array is dead, keeping order and length', () => {
    const d = new Deque<number>();
    for (let i = 0; i < 3_000; i++) d.push(i);
    const shifted = Array.from({ length: 2_000 }, () => d.shift());
    expect(shifted).toEqual(Array.from({ length: 2_000 }, (_, i) => i));
    expect(d.length).toBe(1_000);
    expect(backing(d).length).toBeLessThan(3_000); // the dead prefix was released
    expect(backing(d).length).toBeGreaterThanOrEqual(1_000);
    d.push(3_000);
    expect(d.peek()).toBe(2_000);
    expect(drainAll(d)).toEqual(Array.from({ length: 1_001 }, (_, i) => 2_000 + i));
  });

  it('drain() returns everything left and empties it', () => {
    const d = new Deque<number>();
    for (let i = 0; i < 5; i++) d.push(i);
    d.shift();
    expect(d.drain()).toEqual([1, 2, 3, 4]);
    expect(d.length).toBe(0);
    expect(d.peek()).toBeUndefined();
    d.push(9);
    expect(drainAll(d)).toEqual([9]);
  });
});

describe('EpochTracker', () => {
  /** Lets pending promise callbacks run. */
  const tick = () => new Promise((resolve) => setImmediate(resolve));
  const watch = (p: Promise<void>) => {
    const state = { done: false };
    void p.then(() => (state.done = true));
    return state;
  };

  it('flush() with nothing open resolves at once, and opens a new epoch', async () => {
    const t = new EpochTracker();
    expect(t.current).toBe(0);
    const f = watch(t.flush());
    await tick();
    expect(f.done).toBe(true);
    expect(t.current).toBe(1);
    expect(t.flushPending).toBe(false);
  });

  it('flush() waits for every event of earlier epochs, and only those', async () => {
    const t = new EpochTracker();
    t.add(t.current);
    t.add(t.current); // two events in epoch 0
    const f = watch(t.flush());
    expect(t.flushPending).toBe(true);
    t.add(t.current); // epoch 1: tracked after the flush was called
    t.settle(0);
    await tick();
    expect(f.done).toBe(false);
    t.settle(0);
    await tick();
    expect(f.done).toBe(true); // epoch 1 is still open, and does not hold it
    expect(t.flushPending).toBe(false);
  });

  it('several flushes each wait for their own past', async () => {
    const t = new EpochTracker();
    t.add(0);
    const first = watch(t.flush()); // waits for epoch 0
    t.add(1);
    const second = watch(t.flush()); // waits for epochs 0 and 1
    t.settle(1);
    await tick();
    expect([first.done, second.done]).toEqual([false, false]);
    t.settle(0);
    await tick();
    expect([first.done, second.done]).toEqual([true, true]);
  });

  it('a flush called while another waits, with nothing new tracked, waits for the same events', async () => {
    const t = new EpochTracker();
    t.add(0);
    const first = watch(t.flush());
    const second = watch(t.flush()); // epoch 1 is empty: still waits for epoch 0
    await tick();
    expect([first.done, second.done]).toEqual([false, false]);
    t.settle(0);
    await tick();
    expect([first.done, second.done]).toEqual([true, true]);
  });
});
