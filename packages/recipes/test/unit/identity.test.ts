import { EtcdError } from '@etcdkit/client';
import { describe, expect, it } from 'vitest';
import { afterDeleteError } from '../../src/internal/delete-own.js';
import { isOwn } from '../../src/internal/identity.js';

describe('isOwn: telling our key from someone else’s after an ambiguous reply', () => {
  const node = { createdIndex: 7, value: '{"owner":"a"}' };

  it('is ours with the same createdIndex and a value we wrote or may have written', () => {
    expect(isOwn(node, 7, ['{"owner":"a"}'])).toBe(true);
    expect(isOwn(node, 7, ['{"owner":"a","held":true}', '{"owner":"a"}'])).toBe(true);
  });

  it('is not ours after a re-create (another createdIndex) or a foreign compare-and-swap (another value)', () => {
    expect(isOwn(node, 8, ['{"owner":"a"}'])).toBe(false);
    expect(isOwn(node, 7, ['{"owner":"b"}'])).toBe(false);
  });

  it('uses what is known, and says no when nothing is', () => {
    expect(isOwn(node, 7, undefined)).toBe(true);
    expect(isOwn(node, undefined, ['{"owner":"a"}'])).toBe(true);
    expect(isOwn(node, undefined, undefined)).toBe(false);
  });
});

describe('afterDeleteError: what a failed delete of our own key (sent retrySafe) means', () => {
  it('100: gone (expired, or deleted by our own earlier attempt applied late), so done', () => {
    expect(afterDeleteError(new EtcdError(100, 'Key not found', '/k', 9))).toBe('done');
  });

  it('101: changed since we knew it, so read it again and decide by its createdIndex', () => {
    expect(afterDeleteError(new EtcdError(101, 'Compare failed', '[3 != 4]', 9))).toBe('reread');
  });

  it('anything else: try again', () => {
    expect(afterDeleteError(new EtcdError(300, 'Raft Internal Error', '', 9))).toBe('retry');
    expect(afterDeleteError(new Error('socket hang up'))).toBe('retry');
  });
});
