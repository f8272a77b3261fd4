// What the real readers of our report files accept: KCIDB's JSON Schema, Jenkins' JUnit xsd, the kernel's kunit.py.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { execa } from 'execa';
import { validateXML } from 'xmllint-wasm';

/** The vendored copies (test/fixtures/consumers/): CI may not have ../shared. */
const vendored = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', 'consumers', name), 'utf8');

// kcidb-io checks formats too (date-time, uri, email), so ours must.
const ajv = new Ajv2020({ allErrors: true });
addFormats.default(ajv);
const kcidbSchema = ajv.compile(JSON.parse(vendored('kcidb-v5.3.schema.json')));
const junitXsd = vendored('junit-10.xsd');

/** Every way `obj`, as written to kcidb.json, breaks KCIDB v5.3; empty when kcidb-io would accept it. */
export function validateKcidb(obj: unknown): string[] {
  // What the file holds, not the object: undefined entries vanish, NaN turns null.
  if (kcidbSchema(JSON.parse(JSON.stringify(obj)))) return [];
  return (kcidbSchema.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
}

/** Every complaint xmllint has about `xml` against Jenkins' junit-10.xsd; empty when it validates. */
export async function validateJunit(xml: string): Promise<string[]> {
  const r = await validateXML({ xml: { fileName: 'junit.xml', contents: xml }, schema: { fileName: 'junit-10.xsd', contents: junitXsd } });
  return r.valid ? [] : r.errors.map((e) => e.rawMessage);
}

/** What the kernel's own KTAP reader says about a TAP file: its [ERROR] lines, and its closing summary. */
export async function kunitParse(kernelSource: string, file: string): Promise<{ errors: string[]; summary: string }> {
  // kunit.py changes into the kernel tree first, so the file must be absolute; it exits 1 when a test failed.
  const r = await execa('python3', [join(kernelSource, 'tools/testing/kunit/kunit.py'), 'parse', resolve(file)], { all: true, reject: false });
  const lines = String(r.all).replace(/\x1b\[[0-9;]*m/g, '').split('\n').map((l) => l.replace(/^\[[0-9:]+\] /, ''));
  const summary = lines.find((l) => l.startsWith('Testing complete.')) ?? '';
  const errors = lines.filter((l) => l.startsWith('[ERROR]') || l.startsWith('Traceback'));
  return { errors: summary ? errors : [...errors, `kunit.py parse printed no summary (exit ${r.exitCode}): ${String(r.all).slice(-2000)}`], summary };
}

/** Every complaint about the kcidb.json and junit.xml a run wrote into `runDir`, each named by its file. */
export async function validateRunFiles(runDir: string): Promise<string[]> {
  const read = (f: string) => readFileSync(join(runDir, f), 'utf8');
  // The matrix writes no KCIDB (it is several kernels, not one checkout): validate what the run wrote.
  const kcidb = existsSync(join(runDir, 'kcidb.json')) ? validateKcidb(JSON.parse(read('kcidb.json'))).map((e) => `kcidb.json: ${e}`) : [];
  const junit = (await validateJunit(read('junit.xml'))).map((e) => `junit.xml: ${e}`);
  return [...kcidb, ...junit];
}
