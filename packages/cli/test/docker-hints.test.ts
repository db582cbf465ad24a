import { describe, expect, it } from 'vitest';
import { dockerHint } from '../src/commands/cluster-up.js';

// Errors as dockerode and testcontainers report them (a daemon's reply carries the registry host and no hint).
const offlinePull = Object.assign(
  new Error(
    '(HTTP code 500) server error - Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io on 127.0.0.53:53: no such host',
  ),
  {
    json: {
      message: 'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host',
    },
  },
);

describe('cluster up --backend docker: what to do when Docker cannot help', () => {
  it('an image that cannot be pulled (offline) says: --image local and TESTCONTAINERS_RYUK_DISABLED=true', () => {
    for (const error of [offlinePull, new Error('could not start', { cause: offlinePull })]) {
      const hint = dockerHint(error, 'quay.io/coreos/etcd:v3.4.34');
      expect(hint?.message).toMatch(/could not get its images \(quay\.io\/coreos\/etcd:v3\.4\.34/);
      expect(hint?.message).toMatch(/--image local/);
      expect(hint?.message).toMatch(/TESTCONTAINERS_RYUK_DISABLED=true/);
      expect(hint?.cause).toBe(error); // printed with --debug
    }
  });

  it('no daemon says to start Docker or use --backend process; other errors get no hint', () => {
    const hint = dockerHint(new Error('Could not find a working container runtime strategy'), undefined);
    expect(hint?.message).toMatch(/no working Docker daemon.*--backend process/s);
    expect(dockerHint(new Error('etcd did not start: bad flag'), undefined)).toBeUndefined();
  });
});
