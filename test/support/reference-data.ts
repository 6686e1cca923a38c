/**
 * Where the conformance tests find the upstream reference figures (diffusers schedulers, the
 * openai/CLIP tokenizer): the copy kept in the repository under test/fixtures/reference/ (its
 * README says where the figures came from), or the folder IMAGINE_REFERENCE_DIR names, to
 * check against another set of the same layout. A missing file is an error naming its path,
 * so the conformance tests run on every clone and are never silently skipped.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../src/config.ts';

export const FIXTURE_REFERENCE_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'reference');

const override = process.env.IMAGINE_REFERENCE_DIR?.trim();
export const REFERENCE_DIR = override ? path.resolve(override) : FIXTURE_REFERENCE_DIR;

/** Path of a reference file, checked to exist. */
export function referencePath(...parts: string[]): string {
  const file = path.join(REFERENCE_DIR, ...parts);
  if (!existsSync(file)) {
    const where = override ? `IMAGINE_REFERENCE_DIR is ${JSON.stringify(override)}` : 'the repository keeps it under test/fixtures/reference/';
    throw new Error(`reference data ${file} is missing (${where})`);
  }
  return file;
}

/** A reference JSON file, parsed (its shape is described in test/fixtures/reference/README.md). */
export function readReferenceJson<T>(name: string): T {
  return JSON.parse(readFileSync(referencePath(name), 'utf8')) as T;
}
