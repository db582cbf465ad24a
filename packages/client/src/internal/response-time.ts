/**
 * A smoothed estimate of how long a healthy member takes to answer, and from it how long to wait before a
 * request counts as slow: the retransmission timeout of RFC 6298 (smoothed time plus four times its mean
 * deviation), kept between a floor and a ceiling. Until the first sample it is the ceiling (RFC 6298 starts at
 * 1 s too). Fed with the durations of the raft rounds that succeeded (keys writes, quorum reads, `/health`
 * probes; of a hedged call, the attempt that answered first): an attempt overtaken by a hedge that answered
 * first is never a sample, so the proposals stuck in an election are not (the one that answered first is,
 * once), and a slow cluster (a WAN, a slow disk) raises it above the floor by itself.
 */
export class ResponseTime {
  readonly #floorMs: number;
  readonly #ceilingMs: number;
  /** The smoothed duration (SRTT), in ms; `undefined` before the first sample. */
  #smoothed: number | undefined;
  /** The smoothed mean deviation (RTTVAR), in ms. */
  #deviation = 0;

  constructor(floorMs: number, ceilingMs: number) {
    this.#floorMs = Math.min(floorMs, ceilingMs);
    this.#ceilingMs = ceilingMs;
  }

  /** One attempt that answered, after `ms`. */
  sample(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    if (this.#smoothed === undefined) {
      this.#smoothed = ms;
      this.#deviation = ms / 2;
      return;
    }
    this.#deviation = 0.75 * this.#deviation + 0.25 * Math.abs(this.#smoothed - ms);
    this.#smoothed = 0.875 * this.#smoothed + 0.125 * ms;
  }

  /** How long to wait for an answer before the request counts as slow, in ms. */
  timeout(): number {
    if (this.#smoothed === undefined) return this.#ceilingMs;
    const rto = this.#smoothed + 4 * this.#deviation;
    return Math.round(Math.min(this.#ceilingMs, Math.max(this.#floorMs, rto)));
  }
}
