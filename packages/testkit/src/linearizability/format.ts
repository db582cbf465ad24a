/** A readable rendering of KV operations and counterexamples. */
import { isPending, type KvInput, type KvOperation, type KvOutput } from './kv-ops.js';

const q = (text: string): string => JSON.stringify(text);

/** An operation's input: `cas /k "a" -> "b" if prevIndex=7`. */
export function formatKvInput(input: KvInput): string {
  const conditions = (c: { prevValue?: string; prevIndex?: number }): string => {
    const parts = [
      ...(c.prevValue === undefined ? [] : [`prevValue=${q(c.prevValue)}`]),
      ...(c.prevIndex ? [`prevIndex=${c.prevIndex}`] : []),
    ];
    return parts.length ? ` if ${parts.join(' ')}` : '';
  };
  switch (input.type) {
    case 'get':
      return `get ${input.key}${input.quorum === false ? ' (local)' : ''}`;
    case 'cas':
      return `cas ${input.key} := ${q(input.value)}${conditions(input)}`;
    case 'delete':
      return `delete ${input.key}${conditions(input)}`;
    case 'createInOrder':
      return `createInOrder ${input.dir} := ${q(input.value)}`;
    default:
      return `${input.type} ${input.key} := ${q(input.value)}`;
  }
}

/** An operation's outcome: `ok "b" @9`, `101 compare failed`, `pending`, ... */
export function formatKvOutput(op: KvOperation): string {
  if (op.failed) return `failed, not applied${op.detail ? ` (${op.detail})` : ''}`;
  const output: KvOutput | undefined = op.output;
  if (output === undefined) return `pending: unknown outcome${op.detail ? ` (${op.detail})` : ''}`;
  switch (output.status) {
    case 'ok': {
      const parts = ['ok'];
      if (output.key !== undefined) parts.push(output.key);
      if (output.value !== undefined) parts.push(q(output.value));
      if (output.index !== undefined) parts.push(`@${output.index}`);
      if (output.prev === null) parts.push('(prev: none)');
      else if (output.prev) parts.push(`(prev: ${q(output.prev.value)} @${output.prev.index ?? '?'})`);
      return parts.join(' ');
    }
    case 'not-found':
      return `100 not found${output.storeIndex === undefined ? '' : ` (store @${output.storeIndex})`}`;
    case 'compare-failed':
      return '101 compare failed';
    case 'exists':
      return '105 already exists';
  }
}

/**
 * One line per operation, by invocation: process, invocation and completion in ms after the first
 * invocation (`...` for a pending one: it may take effect at any later time), input and output.
 */
export function formatKvOperations(ops: readonly KvOperation[]): string {
  const sorted = [...ops].sort((a, b) => a.start - b.start);
  const origin = sorted[0]?.start ?? 0;
  const width = Math.max(7, ...sorted.map((op) => op.process.length));
  const ms = (t: number): string => (t - origin).toFixed(1).padStart(8);
  return sorted
    .map((op) => {
      const end = isPending(op) ? `${ms(op.end)}...` : `${ms(op.end)}   `;
      return `${op.process.padEnd(width)} [${ms(op.start)} -> ${end}] ${formatKvInput(op.input)}  =>  ${formatKvOutput(op)}`;
    })
    .join('\n');
}
