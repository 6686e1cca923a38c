/**
 * A real Redis Cluster on loopback for integration tests: six private redis-servers (cluster
 * mode, no persistence) on free ports, joined by `redis-cli --cluster create` as three masters
 * with one replica each. Start one per test file (it takes a few seconds); stop() kills them all.
 *
 * Tests give each queue its own hash-tagged prefix (queue-prefix.ts), so each test's keys sit
 * in one slot; failover(prefix) promotes the replica of the master holding that slot, the way
 * an operator's `CLUSTER FAILOVER` (or a managed service's maintenance) does.
 */
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort, startRedis, type TestRedis } from '../../kit/redis-server.ts';

export interface ClusterNodeInfo {
  id: string;
  port: number;
  role: 'master' | 'replica';
  /** The master's id, for a replica. */
  masterId?: string;
}

export interface TestRedisCluster {
  /** Seed nodes as REDIS_CLUSTER_NODES takes them: `127.0.0.1:p1,127.0.0.1:p2,...` (all six). */
  seedNodes: string;
  /** A URL of one node (REDIS_URL beside REDIS_CLUSTER_NODES only lends credentials and TLS). */
  url: string;
  ports: number[];
  /** A plain connection to one node, closed by stop(). */
  node(port: number): Redis;
  /** The cluster's view from one node (CLUSTER NODES), parsed. */
  nodes(): Promise<ClusterNodeInfo[]>;
  /** The master that holds the slot of `key` (a prefix such as `{t-x-1-ab}` names its slot). */
  masterOf(key: string): Promise<ClusterNodeInfo>;
  /** Promote the replica of the master holding `key`'s slot (CLUSTER FAILOVER on the replica); resolves once every node agrees. */
  failover(key: string): Promise<{ from: number; to: number }>;
  /** Kill (SIGKILL) the master holding `key`'s slot, with no warning; resolves once its replica has taken over on every live node. */
  killMaster(key: string): Promise<{ from: number; to: number }>;
  stop(): Promise<void>;
}

const NODE_TIMEOUT_MS = 2_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startNode(): Promise<TestRedis> {
  // The cluster bus needs a second free port; a clash there makes redis-server exit, so pick again.
  for (let attempt = 0; ; attempt++) {
    const busPort = await freePort();
    try {
      return await startRedis({
        private: true,
        args: [
          '--cluster-enabled', 'yes',
          '--cluster-config-file', 'nodes.conf',
          '--cluster-port', String(busPort),
          '--cluster-node-timeout', String(NODE_TIMEOUT_MS),
          // A replica is listed to clients once its replication offset moves; on an idle master only
          // its pings move it, every 10 s by default. Sync at once and ping every second instead.
          '--repl-diskless-sync-delay', '0',
          '--repl-ping-replica-period', '1',
        ],
      });
    } catch (err) {
      if (attempt >= 2) throw err;
    }
  }
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${out}`))));
  });
}

function parseNodes(text: string): ClusterNodeInfo[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id, address, flags, masterId] = line.split(' ');
      const port = Number(/:(\d+)@/.exec(address)![1]);
      const role = flags.split(',').includes('master') ? 'master' : 'replica';
      return { id, port, role, ...(role === 'replica' ? { masterId } : {}) } as ClusterNodeInfo;
    });
}

async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`redis cluster: timed out waiting for ${what}`);
    await sleep(100);
  }
}

export async function startRedisCluster(): Promise<TestRedisCluster> {
  const servers = await Promise.all(Array.from({ length: 6 }, () => startNode()));
  const ports = servers.map((s) => s.port);
  const clients = new Map<number, Redis>();
  const node = (port: number) => {
    let c = clients.get(port);
    if (!c) {
      c = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, lazyConnect: false });
      c.on('error', () => {});
      clients.set(port, c);
    }
    return c;
  };
  const stop = async () => {
    for (const c of clients.values()) c.disconnect();
    clients.clear();
    await Promise.all(servers.map((s) => s.stop()));
  };

  try {
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes']);
    // Every node must see the whole cluster as healthy with all six members before a client seeds from it.
    await waitUntil('cluster_state:ok on every node, every replica in sync', async () => {
      for (const p of ports) {
        const info = (await node(p).cluster('INFO')) as string;
        if (!info.includes('cluster_state:ok') || !info.includes('cluster_known_nodes:6')) return false;
        // CLUSTER SLOTS (what clients read) lists a replica only once this node knows it has synced with its master.
        const slots = await node(p).cluster('SLOTS');
        if (slots.length !== 3 || slots.some((range) => range.length !== 4)) return false;
      }
      return true;
    });
  } catch (err) {
    await stop();
    throw err;
  }

  const dead = new Set<number>();
  /** A node that was not killed, to ask. */
  const alive = () => ports.find((p) => !dead.has(p))!;
  const nodes = async () => parseNodes((await node(alive()).cluster('NODES')) as string);
  const masterOf = async (key: string) => {
    const slot = (await node(alive()).cluster('KEYSLOT', key)) as number;
    const slots = await node(alive()).cluster('SLOTS');
    const range = slots.find(([from, to]) => slot >= from && slot <= to);
    if (!range) throw new Error(`no node serves slot ${slot}`);
    const master = (await nodes()).find((n) => n.port === range[2][1]);
    if (!master) throw new Error(`slot ${slot}'s master on port ${range[2][1]} is not in CLUSTER NODES`);
    return master;
  };

  /** Resolves once every live node names `replicaId` master and the cluster is healthy again. */
  const tookOver = (replicaId: string, from: number, live: number[]) =>
    waitUntil(`${replicaId} to take over from ${from}`, async () => {
      for (const p of live) {
        const view = parseNodes((await node(p).cluster('NODES')) as string);
        if (view.find((n) => n.id === replicaId)?.role !== 'master') return false;
        if (!((await node(p).cluster('INFO')) as string).includes('cluster_state:ok')) return false;
      }
      return true;
    });
  const replicaOf = async (master: ClusterNodeInfo) => {
    const replica = (await nodes()).find((n) => n.role === 'replica' && n.masterId === master.id);
    if (!replica) throw new Error(`the master on port ${master.port} has no replica`);
    return replica;
  };

  return {
    seedNodes: ports.map((p) => `127.0.0.1:${p}`).join(','),
    url: `redis://127.0.0.1:${ports[0]}`,
    ports,
    node,
    nodes,
    masterOf,
    async failover(key) {
      const master = await masterOf(key);
      const replica = await replicaOf(master);
      await node(replica.port).cluster('FAILOVER');
      await tookOver(replica.id, master.port, ports.filter((p) => !dead.has(p)));
      return { from: master.port, to: replica.port };
    },
    async killMaster(key) {
      const master = await masterOf(key);
      const replica = await replicaOf(master);
      await servers[ports.indexOf(master.port)].kill();
      dead.add(master.port);
      clients.get(master.port)?.disconnect();
      clients.delete(master.port);
      // The replica is elected once the others have marked the master failed (cluster-node-timeout).
      await tookOver(replica.id, master.port, ports.filter((p) => !dead.has(p)));
      return { from: master.port, to: replica.port };
    },
    stop,
  };
}
