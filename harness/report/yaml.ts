// A minimal YAML writer for TAP diagnostics: flat maps of scalars, multi-line text as block scalars.
export function yamlBlock(data: Record<string, unknown>, indent: string): string[] {
  const out = [`${indent}---`];
  for (const [k, v] of Object.entries(data)) {
    if (v === undefined || v === null) continue;
    if (typeof v === 'string' && v.includes('\n')) {
      out.push(`${indent}${k}: |-`);
      for (const line of v.split('\n')) out.push(`${indent}  ${line}`);
    } else if (typeof v === 'number' || typeof v === 'boolean') {
      out.push(`${indent}${k}: ${v}`);
    } else if (typeof v === 'object') {
      out.push(`${indent}${k}: ${JSON.stringify(v)}`);
    } else {
      out.push(`${indent}${k}: ${JSON.stringify(String(v))}`);
    }
  }
  out.push(`${indent}...`);
  return out;
}
