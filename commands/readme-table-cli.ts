/** `npm run docs:commands`: rewrite the README's commands reference from the schema. */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../src/config.ts';
import { withCommandsReference } from './readme-table.ts';

const file = path.join(REPO_ROOT, 'README.md');
const before = fs.readFileSync(file, 'utf8');
const after = withCommandsReference(before);
if (after !== before) fs.writeFileSync(file, after);
console.log(after === before ? 'README.md commands reference is up to date' : 'README.md commands reference rewritten');
