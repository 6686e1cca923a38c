/**
 * Which half of the product a process runs:
 *   all     adapters, web playground and a worker in one process (`npm start`); the job queue
 *           is in process memory unless REDIS_URL is set
 *   bot     adapters and the web playground only; enqueues on Redis (`npm run bot`)
 *   worker  a worker only; takes jobs from Redis (`npm run worker`)
 */
export const ROLES = ['all', 'bot', 'worker'] as const;
export type Role = (typeof ROLES)[number];

export class RoleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RoleError';
  }
}

export function parseRole(argv: readonly string[]): Role {
  let role: string = 'all';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--role') role = argv[++i] ?? '';
    else if (arg.startsWith('--role=')) role = arg.slice('--role='.length);
    else throw new RoleError(`Unknown argument ${JSON.stringify(arg.slice(0, 40))}: the only option is --role=all|bot|worker`);
  }
  if (!(ROLES as readonly string[]).includes(role)) throw new RoleError(`Invalid --role ${JSON.stringify(role.slice(0, 40))}: use all, bot or worker`);
  return role as Role;
}

export const runsAdapters = (role: Role) => role !== 'worker';
export const runsWorker = (role: Role) => role !== 'bot';
