// Recorded real streams under test/fixtures/, and the exit of a VM that powered off cleanly.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const fx = (...p: string[]) => readFileSync(join(import.meta.dirname, '..', 'fixtures', ...p), 'utf8');

export const exit0 = { code: 0, signal: null, stderr: '' };
