/** Reading a command's outcome in a test: the job it built (or a thrown error saying what came instead), or the message it refused with. */
import type { CommandOutcome } from '../../commands/context.ts';

export const job = (o: CommandOutcome) => {
  if (o.kind !== 'job') throw new Error(`expected a job, got ${JSON.stringify(o)}`);
  return o;
};
export const refused = (o: CommandOutcome) => (o.kind === 'message' ? o.message : `not refused: ${o.kind}`);
