import { describe, expect, it } from 'vitest';
import { LinkFaults, NO_RULES, natRestore, RELAY_CHAIN } from '../../src/netns/link-faults.js';

const TAG = '-m comment --comment etcdkit-t';

/** Three nodes, a, b and c, at .10, .11 and .12; the host at .1. */
function threeNodes(): LinkFaults {
  const faults = new LinkFaults('etcdkit-t', '10.0.0.1');
  for (const [i, name] of ['a', 'b', 'c'].entries()) faults.setNode(name, `10.0.0.${10 + i}`);
  return faults;
}

/** The rules of `name` without the table's header and COMMIT. */
const rules = (
  faults: LinkFaults,
  name: string,
  relays?: ReadonlyMap<string, { host: string; port: number }>,
): string[] =>
  faults
    .rulesOf(name, relays)
    .split('\n')
    .filter((line) => line.startsWith('-A'));

describe('LinkFaults', () => {
  it('renders a whole, empty filter table and no qdisc when there is no fault', () => {
    const faults = threeNodes();
    expect(faults.rulesOf('a')).toBe(
      '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n',
    );
    expect(faults.rulesOf('a')).toBe(NO_RULES);
    expect(faults.qdiscOf('a')).toBe('');
  });

  it('a one-way cut drops in the receiver only', () => {
    const faults = threeNodes();
    faults.cut(['a'], ['b', 'a']);
    expect(rules(faults, 'b')).toEqual([`-A INPUT -s 10.0.0.10/32 ${TAG} -j DROP`]);
    expect(rules(faults, 'a')).toEqual([]);
    expect(rules(faults, 'c')).toEqual([]);
  });

  it('a partition drops both ways between groups, not within one', () => {
    const faults = threeNodes();
    faults.partition([['a'], ['b', 'c']]);
    expect(rules(faults, 'a')).toEqual([
      `-A INPUT -s 10.0.0.11/32 ${TAG} -j DROP`,
      `-A INPUT -s 10.0.0.12/32 ${TAG} -j DROP`,
    ]);
    expect(rules(faults, 'b')).toEqual([`-A INPUT -s 10.0.0.10/32 ${TAG} -j DROP`]);
    expect(rules(faults, 'c')).toEqual([`-A INPUT -s 10.0.0.10/32 ${TAG} -j DROP`]);
  });

  it('a ring of 5 lets each node reach its two neighbours only', () => {
    const faults = new LinkFaults('etcdkit-t', '10.0.0.1');
    const names = ['a', 'b', 'c', 'd', 'e'];
    for (const [i, name] of names.entries()) faults.setNode(name, `10.0.0.${10 + i}`);
    faults.ring(names);
    expect(rules(faults, 'a')).toEqual([
      `-A INPUT -s 10.0.0.12/32 ${TAG} -j DROP`,
      `-A INPUT -s 10.0.0.13/32 ${TAG} -j DROP`,
    ]);
    expect(names.map((name) => rules(faults, name).length)).toEqual([2, 2, 2, 2, 2]);
  });

  it('node loss drops at random both ways, the host (exempt) and loopback (Docker DNS) aside; 0 ends it', () => {
    const faults = threeNodes();
    faults.loss(['b'], 0.25);
    const random = '-m statistic --mode random --probability 0.25';
    expect(rules(faults, 'b')).toEqual([
      `-A INPUT ! -i lo ! -s 10.0.0.1/32 ${random} ${TAG} -j DROP`,
      `-A OUTPUT ! -o lo ! -d 10.0.0.1/32 ${random} ${TAG} -j DROP`,
    ]);
    faults.loss(['b'], 0);
    expect(rules(faults, 'b')).toEqual([]);
    expect(() => faults.loss(['b'], 1.5)).toThrow(RangeError);
  });

  it('link loss is per directed edge, both ways unless oneWay', () => {
    const faults = threeNodes();
    faults.linkLoss(['a'], ['b'], 0.5, true);
    const random = '-m statistic --mode random --probability 0.5';
    expect(rules(faults, 'b')).toEqual([`-A INPUT -s 10.0.0.10/32 ${random} ${TAG} -j DROP`]);
    expect(rules(faults, 'a')).toEqual([]);
    faults.linkLoss(['a'], ['c'], 0.5);
    expect(rules(faults, 'a')).toEqual([`-A INPUT -s 10.0.0.12/32 ${random} ${TAG} -j DROP`]);
  });

  it('rate is a tbf qdisc, netem takes it over and carries the rate', () => {
    const faults = threeNodes();
    faults.rate(['a'], 512);
    expect(faults.qdiscOf('a')).toBe('tbf rate 512kbit burst 3200 latency 200ms');
    faults.rate(['a'], 80_000);
    // 20 ms at 80 Mbit/s: 200 kB
    expect(faults.qdiscOf('a')).toBe('tbf rate 80000kbit burst 200000 latency 200ms');
    faults.netem(['a'], { delayMs: 20, jitterMs: 5, duplicate: 0.1, reorder: 0.25 });
    expect(faults.qdiscOf('a')).toBe('netem delay 20ms 5ms duplicate 10% reorder 25% rate 80000kbit');
    expect(faults.qdiscOf('b')).toBe('');
    expect(() => faults.rate(['a'], 0)).toThrow(RangeError);
    expect(() => faults.netem(['a'], { jitterMs: 5 })).toThrow(/need a delayMs/);
  });

  it('a link rate is an htb leaf per limited peer, picked by its address, all under the node’s own rate', () => {
    const faults = threeNodes();
    faults.linkRate(['a'], ['b'], 256, true);
    const dev = 'dev eth0';
    const parent = (kbit: number): string => `class add ${dev} parent 1: classid 1:1 htb rate ${kbit}kbit`;
    const leaf = (minor: string, ceil: number): string =>
      `class add ${dev} parent 1:1 classid 1:${minor} htb rate 8kbit ceil ${ceil}kbit`;
    const filter = (address: string, minor: string): string =>
      `filter add ${dev} parent 1: protocol ip prio 1 u32 match ip dst ${address}/32 flowid 1:${minor}`;
    expect(faults.qdiscOf('a').split('\n')).toEqual([
      'handle 1: htb default ffff',
      parent(10_000_000), // no rate of its own: not limited
      leaf('ffff', 10_000_000), // the rest of what it sends
      leaf('2', 256),
      filter('10.0.0.11', '2'),
    ]);
    expect(faults.qdiscOf('b')).toBe(''); // one way
    // both ways; the node's own rate is the parent's, which bounds everything it sends
    faults.linkRate(['a'], ['c'], 1024);
    faults.rate(['a'], 512);
    expect(faults.qdiscOf('a').split('\n')).toEqual([
      'handle 1: htb default ffff',
      parent(512),
      leaf('ffff', 512),
      leaf('2', 256),
      filter('10.0.0.11', '2'),
      leaf('3', 512),
      filter('10.0.0.12', '3'),
    ]);
    expect(faults.qdiscOf('c').split('\n')).toEqual([
      'handle 1: htb default ffff',
      parent(10_000_000),
      leaf('ffff', 10_000_000),
      leaf('2', 1024),
      filter('10.0.0.10', '2'),
    ]);
    // netem (where the kernel has it) goes beneath every leaf, without a rate of its own
    faults.netem(['c'], { delayMs: 20, jitterMs: 0 });
    expect(faults.qdiscOf('c').split('\n')).toContain(`qdisc add ${dev} parent 1:2 netem delay 20ms`);
    expect(faults.qdiscOf('c').split('\n')).toContain(`qdisc add ${dev} parent 1:ffff netem delay 20ms`);
    // 0 ends a link's rate; heal of a node ends the rates of its links
    faults.linkRate(['a'], ['b'], 0, true);
    faults.heal(['c']);
    expect(faults.qdiscOf('a')).toBe('tbf rate 512kbit burst 3200 latency 200ms');
    expect(faults.qdiscOf('c')).toBe('');
    expect(() => faults.linkRate(['a'], ['b'], -5)).toThrow(RangeError);
  });

  it('heal of some nodes ends what involves them; heal of all ends everything', () => {
    const faults = threeNodes();
    faults.partition([['a'], ['b'], ['c']]);
    faults.loss(['a', 'c'], 0.1);
    faults.rate(['a'], 512);
    faults.heal(['a']);
    expect(rules(faults, 'a')).toEqual([]);
    expect(faults.qdiscOf('a')).toBe('');
    expect(rules(faults, 'b')).toEqual([`-A INPUT -s 10.0.0.12/32 ${TAG} -j DROP`]);
    expect(rules(faults, 'c')).toHaveLength(3);
    faults.heal();
    expect(['a', 'b', 'c'].map((name) => faults.rulesOf(name))).toEqual([NO_RULES, NO_RULES, NO_RULES]);
  });

  it('a node that moves is dropped at its new address; a removed node is forgotten', () => {
    const faults = threeNodes();
    faults.cut(['a'], ['b']);
    faults.setNode('a', '10.0.0.99');
    expect(rules(faults, 'b')).toEqual([`-A INPUT -s 10.0.0.99/32 ${TAG} -j DROP`]);
    faults.removeNode('a');
    expect(faults.nodes).toEqual(['b', 'c']);
    expect(rules(faults, 'b')).toEqual([]);
  });

  it('a relayed delay: a relay per member dialing the delayed one, a DNAT rule in that member', () => {
    const faults = new LinkFaults('etcdkit-t', '10.0.0.1');
    for (const [i, name] of ['a', 'b', 'c'].entries()) faults.setNode(name, `10.0.0.${10 + i}`, 2380);
    faults.setNode('cli', '10.0.0.100'); // a client: no peer port, never relayed
    faults.relayDelay(['a'], { delayMs: 40, jitterMs: 10 });
    const delay = { delayMs: 40, jitterMs: 10, blackholed: false };
    const toA = { to: 'a', address: '10.0.0.10', port: 2380, ...delay };
    // every connection between a and the other members, whichever opens it
    expect(faults.relays()).toEqual([
      { key: 'b>a', from: 'b', ...toA },
      { key: 'c>a', from: 'c', ...toA },
      { key: 'a>b', from: 'a', to: 'b', address: '10.0.0.11', port: 2380, ...delay },
      { key: 'a>c', from: 'a', to: 'c', address: '10.0.0.12', port: 2380, ...delay },
    ]);
    const relays = new Map([
      ['b>a', { host: '10.0.0.1', port: 40001 }],
      ['c>a', { host: '10.0.0.1', port: 40002 }],
      ['a>b', { host: '10.0.0.1', port: 40003 }],
    ]);
    expect(faults.natOf('b', relays)).toBe(
      `-A ${RELAY_CHAIN} -d 10.0.0.10/32 -p tcp -m tcp --dport 2380 ${TAG} -j DNAT --to-destination 10.0.0.1:40001`,
    );
    // a relay not running (yet): no rule sends connections to it
    expect(faults.natOf('a', relays)).toBe(
      `-A ${RELAY_CHAIN} -d 10.0.0.11/32 -p tcp -m tcp --dport 2380 ${TAG} -j DNAT --to-destination 10.0.0.1:40003`,
    );
    expect(faults.natOf('cli', relays)).toBe('');
    // no drop (the relays are on the host, which no rule drops); a reset of a connection that bypasses the relay
    const bypass = (address: string): string =>
      `-A OUTPUT -d ${address}/32 -p tcp -m tcp --dport 2380 ! --tcp-flags RST RST ${TAG} -j REJECT --reject-with tcp-reset`;
    expect(rules(faults, 'a', relays)).toEqual([bypass('10.0.0.11')]);
    expect(rules(faults, 'b', relays)).toEqual([bypass('10.0.0.10')]);
    expect(rules(faults, 'cli', relays)).toEqual([]);
    expect(faults.qdiscOf('a')).toBe('');
    // 0 ends it, heal too
    faults.relayDelay(['a'], { delayMs: 0, jitterMs: 0 });
    expect(faults.relays()).toEqual([]);
    faults.relayDelay(['a'], { delayMs: 40, jitterMs: 0 });
    faults.relayDelay(['b'], { delayMs: 90, jitterMs: 0 });
    // into a delayed member: its delay; else the delay of the one that opens it
    const delays = (): Record<string, number> =>
      Object.fromEntries(faults.relays().map((spec) => [spec.key, spec.delayMs]));
    expect(delays()).toEqual({ 'b>a': 40, 'c>a': 40, 'a>b': 90, 'c>b': 90, 'a>c': 40, 'b>c': 90 });
    faults.heal(['b']);
    expect(delays()).toEqual({ 'b>a': 40, 'c>a': 40, 'a>b': 40, 'a>c': 40 });
    faults.heal();
    expect(faults.relays()).toEqual([]);
    expect(faults.rulesOf('a', relays)).toBe(NO_RULES);
    expect(() => faults.relayDelay(['a'], { delayMs: 0, jitterMs: 5 })).toThrow(RangeError);
  });

  it('a link delay: relays between its two members only, both ways; it replaces their own delay there', () => {
    const faults = new LinkFaults('etcdkit-t', '10.0.0.1');
    for (const [i, name] of ['a', 'b', 'c'].entries()) faults.setNode(name, `10.0.0.${10 + i}`, 2380);
    const delays = (): Record<string, number> =>
      Object.fromEntries(faults.relays().map((spec) => [spec.key, spec.delayMs]));
    faults.linkDelay(['a'], ['b'], { delayMs: 30, jitterMs: 5 });
    expect(faults.relays()).toEqual([
      {
        key: 'b>a',
        from: 'b',
        to: 'a',
        address: '10.0.0.10',
        port: 2380,
        delayMs: 30,
        jitterMs: 5,
        blackholed: false,
      },
      {
        key: 'a>b',
        from: 'a',
        to: 'b',
        address: '10.0.0.11',
        port: 2380,
        delayMs: 30,
        jitterMs: 5,
        blackholed: false,
      },
    ]);
    // a member's delay elsewhere; the link keeps its own
    faults.relayDelay(['a'], { delayMs: 80, jitterMs: 0 });
    expect(delays()).toEqual({ 'b>a': 30, 'c>a': 80, 'a>b': 30, 'a>c': 80 });
    // 0 ends the link's own delay (a's applies to it again), whichever side is named first
    faults.linkDelay(['b'], ['a'], { delayMs: 0, jitterMs: 0 });
    expect(delays()).toEqual({ 'b>a': 80, 'c>a': 80, 'a>b': 80, 'a>c': 80 });
    faults.heal();
    faults.linkDelay(['a', 'b'], ['a', 'c'], { delayMs: 10, jitterMs: 0 }); // a node has no link to itself
    expect(delays()).toEqual({ 'b>a': 10, 'c>a': 10, 'a>c': 10, 'b>c': 10, 'c>b': 10, 'a>b': 10 });
    faults.heal(['c']);
    expect(delays()).toEqual({ 'b>a': 10, 'a>b': 10 });
    faults.heal();
    expect(faults.relays()).toEqual([]);
    expect(() => faults.linkDelay(['a'], ['b'], { delayMs: -1, jitterMs: 0 })).toThrow(RangeError);
  });

  it('a relayed link is blackholed while cut either way, and loses what its ends and the link lose', () => {
    const faults = new LinkFaults('etcdkit-t', '10.0.0.1');
    for (const [i, name] of ['a', 'b', 'c'].entries()) faults.setNode(name, `10.0.0.${10 + i}`, 2380);
    faults.relayDelay(['a'], { delayMs: 40, jitterMs: 0 });
    faults.cut(['a'], ['c']);
    const blackholed = (): Record<string, boolean> =>
      Object.fromEntries(faults.relays().map((spec) => [spec.key, spec.blackholed]));
    // a cut from a to c stalls the connections between them either way
    expect(blackholed()).toEqual({ 'b>a': false, 'c>a': true, 'a>b': false, 'a>c': true });
    faults.heal(['c']);
    faults.cut(['b'], ['a']);
    expect(blackholed()).toEqual({ 'b>a': true, 'c>a': false, 'a>b': true, 'a>c': false });
    faults.heal();
    faults.relayDelay(['a'], { delayMs: 40, jitterMs: 0 });
    faults.loss(['a'], 0.1);
    faults.linkLoss(['b'], ['a'], 0.5, true);
    const relays = new Map([['b>a', { host: '10.0.0.1', port: 40001 }]]);
    const random = (p: number): string => `-m statistic --mode random --probability ${p}`;
    // b's packets to a through the relay: 1 - 0.9 x 0.5 lost; a's back to b: 0.1
    expect(rules(faults, 'b', relays)).toEqual([
      `-A OUTPUT -d 10.0.0.10/32 -p tcp -m tcp --dport 2380 ! --tcp-flags RST RST ${TAG} -j REJECT --reject-with tcp-reset`,
      `-A OUTPUT -d 10.0.0.1/32 -p tcp -m tcp --dport 40001 ${random(0.55)} ${TAG} -j DROP`,
      `-A INPUT -s 10.0.0.1/32 -p tcp -m tcp --sport 40001 ${random(0.1)} ${TAG} -j DROP`,
    ]);
  });

  it('the nat chain is restored without flushing the table; the jump to it is added once', () => {
    expect(natRestore('etcdkit-t', '-A X', true)).toBe(
      `*nat\n:${RELAY_CHAIN} - [0:0]\n-A OUTPUT ${TAG} -j ${RELAY_CHAIN}\n-A X\nCOMMIT\n`,
    );
    expect(natRestore('etcdkit-t', '', false)).toBe(`*nat\n:${RELAY_CHAIN} - [0:0]\nCOMMIT\n`);
  });
});
