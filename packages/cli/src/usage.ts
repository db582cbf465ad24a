/** The CLI's help text, and the usage error it exits with (code 2). */

export const HELP = `etcdkit: coordination on the etcd v2 API, from the shell

Usage:
  etcdkit demo [--size 3]                          recipes surviving faults on an embedded cluster
  etcdkit cluster up [--size 3] [--backend process|docker] [--image <image>] [--network host|bridge]
                                                   a local dev cluster, up until Ctrl-C
  etcdkit lock <name> [--ttl 10] [--timeout <s>] -- <command...>
                                                   run a command while holding a lock
  etcdkit elect <name> [--ttl 10] [--value <v>] -- <command...>
                                                   run a command while leader; stopped if leadership is lost
  etcdkit registry ls <service> [--json]           list the instances of a service
  etcdkit registry watch <service>                 print instances as they come and go

Global options:
  --endpoints <urls>       comma-separated client URLs (env ETCDCTL_ENDPOINTS; default http://127.0.0.1:2379)
  --username <user[:pw]>   basic auth user (env ETCDCTL_USERNAME), with --password or after a colon
  --password <pw>          basic auth password (env ETCDCTL_PASSWORD)
  --cacert <file>          CA bundle for https endpoints (also --ca-file)
  --cert <file>            client certificate (also --cert-file)
  --key <file>             client key (also --key-file)
  --insecure-skip-tls-verify   accept any server certificate
  --prefix <dir>           key prefix of locks, elections and the registry (default /etcdkit)
  -h, --help               this help
  -v, --version            the version

lock and elect pass ETCDKIT_FENCING_TOKEN (strictly rising across holders) and ETCDKIT_LOCK_KEY or
ETCDKIT_LEADER_KEY to the command, forward SIGINT, SIGTERM and SIGHUP to it, and exit with its exit code
(128 + n when it died of signal n). If the lock or leadership is lost while the command runs, the command
gets SIGTERM (SIGKILL 10 s later) and etcdkit exits with 75.

Exit codes: 0 success, 1 error (etcd unreachable, bad reply), 2 usage error, 75 lock or leadership lost,
else the command's own.`;

/** A command line etcdkit cannot run: exit code 2 with the message and a pointer to --help. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Lock or leadership lost while the command ran: exit code 75 (EX_TEMPFAIL). */
export const EXIT_LOST = 75;
