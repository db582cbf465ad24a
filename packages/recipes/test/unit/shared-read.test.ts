/**
 * `sharedRead`, the reads many contenders of one process share: who shares (same client and prefix), that a
 * caller never gets a read sent before it asked, and that an abort ends one caller's wait, or the read once
 * nobody is left.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OVERTAKE_AFTER_MS, sharedRead } from '../../src/core/shared-read.js';
import type { RecipeKeys } from '../../src/keys.js';

/** A read that answers when told: each call is one round trip. */
class Reads {
  readonly sent: { readonly signal: AbortSignal; answer(value: number): void; fail(error: Error): void }[] =
    [];

  read = (signal: AbortSignal): Promise<number> =>
    new Promise((resolve, reject) => {
      this.sent.push({ signal, answer: resolve, fail: reject });
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
}

const keysOf = (client?: object, prefix?: string): RecipeKeys =>
  ({ ...(client ? { client } : {}), ...(prefix !== undefined ? { prefix } : {}) }) as RecipeKeys;

const settle = () => new Promise((resolve) => setImmediate(resolve));

afterEach(() => {
  vi.useRealTimers();
});

describe('sharedRead', () => {
  it('callers who ask while a read is in flight share the next one, sent when it settles', async () => {
    const reads = new Reads();
    const keys = keysOf({}, '/v2/keys');
    const first = sharedRead(keys, 'queue /a', reads.read);
    const second = sharedRead(keys, 'queue /a', reads.read);
    const third = sharedRead(keys, 'queue /a', reads.read);
    await settle();
    expect(reads.sent).toHaveLength(1);
    reads.sent[0]!.answer(1);
    expect(await first).toBe(1);
    await settle();
    // the later callers get a read sent after they asked, not the one already in flight
    expect(reads.sent).toHaveLength(2);
    reads.sent[1]!.answer(2);
    expect([await second, await third]).toEqual([2, 2]);
    // nothing in flight: the next caller's read goes out at once
    const fourth = sharedRead(keys, 'queue /a', reads.read);
    expect(reads.sent).toHaveLength(3);
    reads.sent[2]!.answer(3);
    expect(await fourth).toBe(3);
  });

  it('is shared across keys objects of one client and prefix only', async () => {
    const reads = new Reads();
    const client = {};
    const a = sharedRead(keysOf(client, '/v2/keys'), 'queue /q', reads.read);
    const sameClient = sharedRead(keysOf(client, '/v2/keys'), 'queue /q', reads.read);
    const otherPrefix = sharedRead(keysOf(client, '/proxy/v2/keys'), 'queue /q', reads.read);
    const otherKind = sharedRead(keysOf(client, '/v2/keys'), 'queue /r', reads.read);
    const otherClient = sharedRead(keysOf({}, '/v2/keys'), 'queue /q', reads.read);
    // without a prefix, a keys object shares with itself only
    const unnamed = keysOf(client);
    const alone = sharedRead(unnamed, 'queue /q', reads.read);
    const aloneAgain = sharedRead(unnamed, 'queue /q', reads.read);
    await settle();
    // a (its next round gathers sameClient), otherPrefix, otherKind, otherClient, alone (then aloneAgain)
    expect(reads.sent).toHaveLength(5);
    for (const [i, read] of reads.sent.entries()) read.answer(i);
    await settle();
    expect(reads.sent).toHaveLength(7);
    for (const [i, read] of reads.sent.slice(5).entries()) read.answer(10 + i);
    expect(
      await Promise.all([a, sameClient, otherPrefix, otherKind, otherClient, alone, aloneAgain]),
    ).toEqual([0, 10, 1, 2, 3, 4, 11]);
  });

  it('a failed read fails every caller of its round', async () => {
    const reads = new Reads();
    const keys = keysOf({}, '');
    const first = sharedRead(keys, 'k', reads.read);
    const [x, y] = [sharedRead(keys, 'k', reads.read), sharedRead(keys, 'k', reads.read)];
    reads.sent[0]!.answer(1);
    await first;
    await settle();
    expect(reads.sent).toHaveLength(2);
    reads.sent[1]!.fail(new Error('no leader'));
    await expect(x).rejects.toThrow('no leader');
    await expect(y).rejects.toThrow('no leader');
  });

  it("a caller's abort ends its own wait; the read is called off when nobody is left", async () => {
    const reads = new Reads();
    const keys = keysOf({}, '');
    const mine = new AbortController();
    const theirs = new AbortController();
    const a = sharedRead(keys, 'k', reads.read, mine.signal);
    const inFlight = reads.sent[0]!;
    // b and c gather for the next read
    const b = sharedRead(keys, 'k', reads.read, theirs.signal);
    const c = sharedRead(keys, 'k', reads.read, theirs.signal);
    theirs.abort(new Error('gave up'));
    await expect(b).rejects.toThrow('gave up');
    await expect(c).rejects.toThrow('gave up');
    // a caller who comes now gathers a read of its own, not the one b and c left
    const d = sharedRead(keys, 'k', reads.read);
    mine.abort(new Error('mine'));
    await expect(a).rejects.toThrow('mine');
    expect(inFlight.signal.aborted).toBe(true);
    await settle();
    expect(reads.sent).toHaveLength(2);
    expect(reads.sent[1]!.signal.aborted).toBe(false);
    reads.sent[1]!.answer(7);
    expect(await d).toBe(7);
  });

  it('a signal already aborted rejects at once, sending nothing', async () => {
    const reads = new Reads();
    await expect(sharedRead(keysOf(), 'k', reads.read, AbortSignal.abort(new Error('late')))).rejects.toThrow(
      'late',
    );
    expect(reads.sent).toHaveLength(0);
  });

  it('callers gathered behind a read that hangs get their own once it has been in flight too long', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const reads = new Reads();
    const keys = keysOf({}, '');
    const stuck = sharedRead(keys, 'k', reads.read);
    vi.advanceTimersByTime(OVERTAKE_AFTER_MS / 2);
    const behind = sharedRead(keys, 'k', reads.read);
    // counted from when the read ahead was sent, not from when the caller came
    vi.advanceTimersByTime(OVERTAKE_AFTER_MS / 2 - 1);
    expect(reads.sent).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(reads.sent).toHaveLength(2);
    reads.sent[1]!.answer(2);
    expect(await behind).toBe(2);
    // the stuck one answers late: its own caller gets it, and the slot is not disturbed
    const later = sharedRead(keys, 'k', reads.read);
    expect(reads.sent).toHaveLength(3);
    reads.sent[0]!.answer(1);
    expect(await stuck).toBe(1);
    reads.sent[2]!.answer(3);
    expect(await later).toBe(3);
  });

  it('a read that throws at once fails its callers, and the next caller reads again', async () => {
    const keys = keysOf({}, '');
    let calls = 0;
    const throwing = (): Promise<number> => {
      calls++;
      throw new Error('bad key');
    };
    await expect(sharedRead(keys, 'k', throwing)).rejects.toThrow('bad key');
    const reads = new Reads();
    const next = sharedRead(keys, 'k', reads.read);
    reads.sent[0]!.answer(5);
    expect(await next).toBe(5);
    expect(calls).toBe(1);
  });

  it('a caller who asks as a read settles (from its `then`) gets a read sent after, not that one', async () => {
    const reads = new Reads();
    const keys = keysOf({}, '');
    const chained = sharedRead(keys, 'k', reads.read).then(() => sharedRead(keys, 'k', reads.read));
    reads.sent[0]!.answer(1);
    await settle();
    expect(reads.sent).toHaveLength(2);
    reads.sent[1]!.answer(2);
    expect(await chained).toBe(2);
  });

  it('a gathering round that every caller left is never sent', async () => {
    const reads = new Reads();
    const keys = keysOf({}, '');
    const first = sharedRead(keys, 'k', reads.read);
    const leaving = new AbortController();
    const gone = sharedRead(keys, 'k', reads.read, leaving.signal);
    // the abort and the answer in one go: the caller leaves before its code runs again
    leaving.abort(new Error('left'));
    reads.sent[0]!.answer(1);
    await expect(gone).rejects.toThrow('left');
    expect(await first).toBe(1);
    await settle();
    expect(reads.sent).toHaveLength(1);
  });
});
