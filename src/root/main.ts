/**
 * The process entry: `npm start` (role all), `npm run bot`, `npm run worker`.
 *
 * Bad configuration ends start-up with exit code 1 and one line on stderr that names the
 * variable and never echoes a value. SIGTERM and SIGINT stop gracefully (src/graceful-exit.ts):
 * adapters stop taking requests, the jobs in hand finish and are delivered, then the process
 * exits 0; a second signal exits at once. A worker that retires itself (WORKER_MAX_JOBS,
 * WORKER_MAX_RSS_MB) exits 0 the same way, for its supervisor to start a fresh one.
 */
import { startApp, StartupError, type App } from './app.ts';
import { ConfigError } from '../config.ts';
import { exitGracefully } from '../graceful-exit.ts';
import { loadConfig, type AppConfig } from './config.ts';
import { PLATFORMS } from './platforms.ts';
import { createLogger } from '../logger.ts';
import { ModelCatalogError } from '../models.ts';
import { parseRole, RoleError, type Role } from '../process-role.ts';
import { EvictionPolicyError } from '../redis-eviction.ts';
import { summaryLines } from './startup-summary.ts';

/** Errors that are the operator's to fix: one line, no stack. */
const CONFIGURATION_ERRORS = [ConfigError, RoleError, StartupError, ModelCatalogError, EvictionPolicyError];

function fail(err: unknown): never {
  const known = CONFIGURATION_ERRORS.some((E) => err instanceof E);
  const message = (err as Error)?.message ?? String(err);
  const line = known ? message : `imagine-bot failed to start: ${message}`;
  process.stderr.write(`${line.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let role: Role;
  let config: AppConfig;
  try {
    role = parseRole(process.argv.slice(2));
    config = loadConfig();
  } catch (err) {
    fail(err);
  }
  const logger = createLogger({ name: `imagine-${role}`, level: config.LOG_LEVEL, platforms: PLATFORMS });

  let app: App;
  try {
    app = await startApp(config, role, { logger, waitForModel: true });
  } catch (err) {
    fail(err);
  }
  process.stdout.write(summaryLines(app.summary).join('\n') + '\n');

  exitGracefully({ close: () => app.close(), done: app.workerDone, activeJobIds: () => app.worker?.consumer.activeJobIds ?? [] }, logger);
}

void main();
