/**
 * Run a Lua script by its SHA1 and load it on NOSCRIPT (after a restart or failover the
 * server's script cache is empty). Keys are always passed as KEYS so Redis Cluster can route.
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from '../redis.ts';

export interface LuaScript {
  name: string;
  source: string;
  sha: string;
}

export function luaScript(name: string, source: string): LuaScript {
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

export async function runLua(redis: RedisClient, script: LuaScript, keys: string[], args: (string | number)[]): Promise<unknown> {
  try {
    return await redis.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw annotate(err, script);
  }
  try {
    return await redis.eval(script.source, keys.length, ...keys, ...args);
  } catch (err) {
    throw annotate(err, script);
  }
}

function annotate(err: unknown, script: LuaScript): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  e.message = `redis script ${script.name}: ${e.message}`;
  return e;
}
