import type { Node } from '@etcdkit/client';

/**
 * Whether `node` is still the key we kept: the same createdIndex (when known) and one of the values we wrote
 * or may have written (when known). With neither known, nothing tells, and the answer is no.
 */
export function isOwn(
  node: Pick<Node, 'createdIndex' | 'value'>,
  createdIndex: number | undefined,
  values: readonly string[] | undefined,
): boolean {
  if (createdIndex === undefined && values === undefined) return false;
  if (createdIndex !== undefined && node.createdIndex !== createdIndex) return false;
  return values === undefined || values.includes(node.value);
}
