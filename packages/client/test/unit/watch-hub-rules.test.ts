import { describe, expect, it } from 'vitest';
import { EventBuffer } from '../../src/internal/event-buffer.js';
import { eventReaches, isHiddenBelow, parentOf, storeKeyOf } from '../../src/internal/event-match.js';
import type { Response } from '../../src/keys.js';

const node = (key: string, modifiedIndex: number, dir = false) => ({
  key,
  dir,
  value: '',
  createdIndex: modifiedIndex,
  modifiedIndex,
});
const event = (action: string, key: string, index: number, prevDir?: boolean): Response => ({
  action,
  node: node(key, index),
  ...(prevDir === undefined ? {} : { prevNode: node(key, index - 1, prevDir) }),
  index,
  clusterId: '',
});

describe('which watch an event wakes (etcd v2 rules)', () => {
  it('the key itself, recursive watches above it, not a plain watch above it', () => {
    const set = event('set', '/a/b/c', 5);
    expect(eventReaches(set, '/a/b/c', false)).toBe(true);
    expect(eventReaches(set, '/a/b', true)).toBe(true);
    expect(eventReaches(set, '/a', true)).toBe(true);
    expect(eventReaches(set, '/', true)).toBe(true);
    expect(eventReaches(set, '/a/b', false)).toBe(false);
    expect(eventReaches(set, '/a/bc', true)).toBe(false);
    expect(eventReaches(set, '/a/b/c/d', true)).toBe(false);
  });

  it('a hidden segment below a recursive watch hides the event; the key’s own watch still sees it', () => {
    const set = event('set', '/a/_h/c', 5);
    expect(eventReaches(set, '/a', true)).toBe(false);
    expect(eventReaches(set, '/a/_h', true)).toBe(true);
    expect(eventReaches(set, '/a/_h/c', false)).toBe(true);
    expect(isHiddenBelow('/a', '/a/_h/c')).toBe(true);
    expect(isHiddenBelow('/a/_h', '/a/_h/c')).toBe(false);
  });

  it('removing a directory reaches every watch below it; removing a key does not', () => {
    expect(eventReaches(event('delete', '/a', 5, true), '/a/b/c', false)).toBe(true);
    expect(eventReaches(event('expire', '/a', 5, true), '/a/b', true)).toBe(true);
    expect(eventReaches(event('delete', '/a', 5, false), '/a/b', false)).toBe(false);
    expect(eventReaches(event('set', '/a', 5, true), '/a/b', false)).toBe(false);
    expect(eventReaches(event('delete', '/a', 5, true), '/ab', false)).toBe(false);
  });

  it('store keys of keys-API paths; the directory above a key', () => {
    expect(storeKeyOf('/v2/keys/a//b/')).toBe('/a/b');
    expect(storeKeyOf('/v2/keys')).toBe('/');
    expect(storeKeyOf('/custom/a')).toBeUndefined();
    expect(parentOf('/a/b')).toBe('/a');
    expect(parentOf('/a')).toBe('/');
  });
});

describe('the hub’s event buffer', () => {
  it('answers from its floor up to a bound, by index, and raises the floor as it drops old events', () => {
    const buffer = new EventBuffer(3);
    buffer.reset(10);
    for (const index of [10, 12, 15, 20]) buffer.add(event('set', `/k${index % 2}`, index));
    expect(buffer.floor).toBe(11);
    expect(buffer.find(11, 30, () => true)?.node?.modifiedIndex).toBe(12);
    expect(buffer.find(13, 30, (e) => e.node!.key === '/k0')?.node?.modifiedIndex).toBe(20);
    expect(buffer.find(13, 20, (e) => e.node!.key === '/k0')).toBeUndefined();
    for (let index = 21; index < 30; index++) buffer.add(event('set', '/k', index));
    expect(buffer.floor).toBe(27);
    expect(buffer.find(0, 100, () => true)?.node?.modifiedIndex).toBe(27);
  });
});
