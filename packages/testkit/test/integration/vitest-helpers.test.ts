import { describe, expect, it } from 'vitest';
import { sharedClusterEndpoints, uniqueKeyPrefix } from '../../src/vitest/index.js';
import { getValue, putKey } from './helpers.js';

describe('vitest helpers', () => {
  it('hand every test file the shared cluster of the global setup', async () => {
    const endpoints = sharedClusterEndpoints();
    expect(endpoints).toHaveLength(3);
    const prefix = uniqueKeyPrefix('shared');
    expect(await putKey(endpoints[0]!, `${prefix}/k`, 'v')).toBe(201);
    expect(await getValue(endpoints[2]!, `${prefix}/k`)).toBe('v');
  });

  it('make key prefixes that never collide', () => {
    const prefixes = new Set(Array.from({ length: 1000 }, () => uniqueKeyPrefix('a b/c')));
    expect(prefixes.size).toBe(1000);
    expect([...prefixes][0]).toMatch(/^\/etcdkit-test\/a_b_c-[0-9a-f]{10}$/);
  });
});
