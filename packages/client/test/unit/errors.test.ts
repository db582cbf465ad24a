import { describe, expect, it } from 'vitest';
import * as errors from '../../src/errors.js';
import {
  AuthError,
  ClientClosedError,
  ClusterError,
  EmptyBodyError,
  EndpointError,
  ErrorCode,
  EtcdClientError,
  EtcdError,
  HeaderTimeoutError,
  InvalidResponseError,
  InvalidValueError,
  isClientClosed,
  isClusterError,
  isDirNotEmpty,
  isEtcdClientError,
  isEtcdError,
  isEventIndexCleared,
  isKeyNotFound,
  isNodeExist,
  isNotDir,
  isNotFile,
  isTestFailed,
  KeyOutsidePrefixError,
} from '../../src/index.js';

type ErrorsModule = typeof errors;

/**
 * A second copy of the errors module, as when two versions of the package are installed: the same file under
 * another specifier is evaluated again by vitest, so its classes are other objects with other prototypes.
 */
async function secondCopy(): Promise<ErrorsModule> {
  const specifier = '../../src/errors.ts?copy';
  return (await import(/* @vite-ignore */ specifier)) as ErrorsModule;
}

/** One instance of every error class of a module, by class name. */
function oneOfEach(m: ErrorsModule): Record<string, Error> {
  return {
    EtcdClientError: new m.EtcdClientError('x'),
    EtcdError: new m.EtcdError(100, 'Key not found', '/k', 7),
    ClusterError: new m.ClusterError([new Error('a')]),
    NoEndpointsError: new m.NoEndpointsError(),
    RedirectError: new m.RedirectError('r'),
    NoLeaderEndpointError: new m.NoLeaderEndpointError(),
    InvalidResponseError: new m.InvalidResponseError('i'),
    EmptyBodyError: new m.EmptyBodyError(),
    InvalidValueError: new m.InvalidValueError('node.ttl', 'v'),
    EndpointError: new m.EndpointError('http://127.0.0.1:1', 'e'),
    HeaderTimeoutError: new m.HeaderTimeoutError('http://127.0.0.1:1'),
    ResponseTooLargeError: new m.ResponseTooLargeError('http://127.0.0.1:1', 10),
    MembersError: new m.MembersError('m', 409),
    AuthError: new m.AuthError('a', 403),
    UnexpectedStatusError: new m.UnexpectedStatusError(418),
    KeyOutsidePrefixError: new m.KeyOutsidePrefixError('k'),
    DiscoveryError: new m.DiscoveryError('d'),
    ClientClosedError: new m.ClientClosedError(),
  };
}

/** The classes of a module by name (the exported functions, constants and types left out). */
function classes(m: ErrorsModule): Record<string, abstract new (...args: never[]) => unknown> {
  const out: Record<string, abstract new (...args: never[]) => unknown> = {};
  for (const [name, value] of Object.entries(m)) {
    if (typeof value === 'function' && /^[A-Z]/.test(name)) {
      out[name] = value as abstract new (...args: never[]) => unknown;
    }
  }
  return out;
}

describe('error brands', () => {
  it('every error class is covered here, and the copy is another module', async () => {
    const copy = await secondCopy();
    expect(copy.EtcdError).not.toBe(EtcdError);
    expect(Object.getPrototypeOf(new copy.EtcdError(100, '', '', 0))).not.toBe(EtcdError.prototype);
    expect(Object.keys(oneOfEach(errors)).sort()).toEqual(Object.keys(classes(errors)).sort());
  });

  it('instanceof answers the same across two copies as within one', async () => {
    const copy = await secondCopy();
    const ours = classes(errors);
    const theirs = classes(copy);
    const own = oneOfEach(errors);
    const other = oneOfEach(copy);
    let checked = 0;
    for (const [name, cls] of Object.entries(ours)) {
      for (const [made, error] of Object.entries(own)) {
        const expected = error instanceof cls;
        expect(other[made] instanceof cls, `${made} of the copy instanceof our ${name}`).toBe(expected);
        expect(error instanceof theirs[name]!, `our ${made} instanceof the copy's ${name}`).toBe(expected);
        checked += 1;
      }
    }
    expect(checked).toBe(18 * 18);
  });

  it('keeps the hierarchy: subclasses are their bases, siblings are not each other', async () => {
    const copy = await secondCopy();
    for (const m of [errors, copy]) {
      const etcd = new m.EtcdError(100, 'Key not found', '/k', 7);
      expect(etcd).toBeInstanceOf(EtcdClientError);
      expect(etcd).toBeInstanceOf(EtcdError);
      expect(etcd).toBeInstanceOf(Error);
      expect(etcd).not.toBeInstanceOf(ClusterError);
      const cluster = new m.ClusterError([]);
      expect(cluster).toBeInstanceOf(EtcdClientError);
      expect(cluster).not.toBeInstanceOf(EtcdError);
      expect(new m.EmptyBodyError()).toBeInstanceOf(InvalidResponseError);
      expect(new m.EmptyBodyError()).not.toBeInstanceOf(InvalidValueError);
      expect(new m.HeaderTimeoutError('h')).toBeInstanceOf(EndpointError);
      expect(new m.EndpointError('h', 'e')).not.toBeInstanceOf(HeaderTimeoutError);
      expect(new m.KeyOutsidePrefixError('k')).toBeInstanceOf(RangeError);
      expect(new m.KeyOutsidePrefixError('k')).toBeInstanceOf(KeyOutsidePrefixError);
      expect(new m.KeyOutsidePrefixError('k')).not.toBeInstanceOf(EtcdClientError);
      expect(new m.ClientClosedError()).toBeInstanceOf(ClientClosedError);
      expect(new m.ClientClosedError()).not.toBeInstanceOf(EmptyBodyError);
    }
  });

  it('the brand is the registered symbol etcdkit.client.<name>, hidden from keys and JSON', () => {
    const error = new EtcdError(105, 'Key already exists', '/k', 3);
    expect(Symbol.for('etcdkit.client.EtcdError') in error).toBe(true);
    expect(Symbol.for('etcdkit.client.EtcdClientError') in error).toBe(true);
    expect(Symbol.for('etcdkit.client.ClusterError') in error).toBe(false);
    expect(Object.getOwnPropertySymbols(error)).toEqual([]);
    expect(Object.keys(error)).not.toContain('etcdkit.client.EtcdError');
    expect(JSON.stringify(error)).not.toContain('etcdkit');
    // an object made elsewhere with the brand is one (this is how another copy's errors pass)
    const foreign = Object.create(null, { [Symbol.for('etcdkit.client.EtcdError')]: { value: true } });
    expect(foreign instanceof EtcdError).toBe(true);
    expect(foreign instanceof ClusterError).toBe(false);
  });

  it('a user subclass is checked by its prototype chain, and is still its base', () => {
    class AppError extends EtcdError {}
    const app = new AppError(100, 'Key not found', '/k', 1);
    expect(app).toBeInstanceOf(AppError);
    expect(app).toBeInstanceOf(EtcdError);
    expect(new EtcdError(100, 'Key not found', '/k', 1)).not.toBeInstanceOf(AppError);
    expect(isKeyNotFound(app)).toBe(true);
  });

  it('nothing else passes: plain errors, look-alikes and non-objects', () => {
    const lookAlike = Object.assign(new Error('Key not found'), {
      name: 'EtcdError',
      code: 'ETCDKIT_SERVER_ERROR',
      errorCode: 100,
    });
    for (const value of [lookAlike, new Error('x'), null, undefined, 100, 'EtcdError', {}, () => {}]) {
      expect(value instanceof EtcdClientError).toBe(false);
      expect(isEtcdError(value)).toBe(false);
      expect(isKeyNotFound(value)).toBe(false);
      expect(isClusterError(value)).toBe(false);
      expect(isClientClosed(value)).toBe(false);
    }
  });
});

describe('predicates', () => {
  const cases = [
    [isKeyNotFound, ErrorCode.KeyNotFound],
    [isTestFailed, ErrorCode.TestFailed],
    [isNotFile, ErrorCode.NotFile],
    [isNotDir, ErrorCode.NotDir],
    [isNodeExist, ErrorCode.NodeExist],
    [isDirNotEmpty, ErrorCode.DirNotEmpty],
    [isEventIndexCleared, ErrorCode.EventIndexCleared],
  ] as const;

  it('each server-code predicate is true for its code only, from either copy', async () => {
    const copy = await secondCopy();
    const codes = Object.values(ErrorCode);
    for (const [predicate, code] of cases) {
      for (const m of [errors, copy]) {
        for (const other of codes) {
          const error = new m.EtcdError(other, 'm', '/k', 9);
          expect(predicate(error), `${predicate.name} on ${other}`).toBe(other === code);
          expect(isEtcdError(error)).toBe(true);
          expect(isEtcdClientError(error)).toBe(true);
        }
        expect(predicate(new m.ClusterError([new m.EtcdError(code, 'm', '/k', 9)]))).toBe(false);
      }
    }
  });

  it('a narrowed error keeps its fields (index of a 100, for a read from there)', () => {
    const error: unknown = new EtcdError(100, 'Key not found', '/dir', 42);
    if (!isKeyNotFound(error)) throw new Error('not narrowed');
    const code: 100 = error.errorCode;
    expect([code, error.index, error.etcdCause]).toEqual([100, 42, '/dir']);
  });

  it('isClusterError, isClientClosed and isEtcdClientError, from either copy', async () => {
    const copy = await secondCopy();
    for (const m of [errors, copy]) {
      expect(isClusterError(new m.ClusterError([]))).toBe(true);
      expect(isClusterError(new m.EtcdError(100, '', '', 0))).toBe(false);
      expect(isClientClosed(new m.ClientClosedError())).toBe(true);
      expect(isClientClosed(new m.ClusterError([]))).toBe(false);
      expect(isEtcdClientError(new m.AuthError('a', 401))).toBe(true);
      expect(isEtcdError(new m.AuthError('a', 401))).toBe(false);
      expect(isEtcdClientError(new m.KeyOutsidePrefixError('k'))).toBe(false);
    }
    expect(new AuthError('a', 401)).toBeInstanceOf(EtcdClientError);
  });

  it('ClientClosedError has a literal name, a stable code and a message', () => {
    const error = new ClientClosedError();
    expect([error.name, error.code, error.message]).toEqual([
      'ClientClosedError',
      'ETCDKIT_CLIENT_CLOSED',
      'client: the client is closed',
    ]);
  });
});
