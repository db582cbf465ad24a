/**
 * Reads a member's Prometheus `/metrics` once and returns a lookup: the sum of every sample of a metric (all its
 * label sets), 0 for a metric it does not have. For benchmarks and tests that count what etcd itself saw, e.g.
 * `etcd_http_received_total` (v2 requests) or `grpc_server_msg_received_total` (v3 messages).
 *
 * @throws {TypeError} (from `fetch`) when the member cannot be reached.
 */
export async function readEtcdMetrics(clientURL: string): Promise<(metric: string) => number> {
  const text = await (await fetch(new URL('/metrics', clientURL))).text();
  const lines = text.split('\n');
  return (metric) =>
    lines
      .filter(
        (line) => line.startsWith(metric) && (line[metric.length] === '{' || line[metric.length] === ' '),
      )
      .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}
