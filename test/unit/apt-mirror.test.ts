// The Debian mirror comes from the machine's apt configuration (these mirror the shape of real sources files).
import { describe, expect, it } from 'vitest';
import { debianMirror, parseDeb822, parseOneLine } from '../../harness/kernel/apt-mirror.ts';

const deb822 = `Types: deb
URIs: file:/srv/mirror/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: file:/srv/mirror/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;

const thirdParty = `Types: deb
URIs: file:/srv/mirror/nodesource/node_20.x
Suites: nodistro
Components: main
Architectures: amd64
Signed-By: /usr/share/keyrings/nodesource.gpg
`;

describe('debianMirror', () => {
  it('picks the main archive, not security and not third-party repositories', () => {
    const m = debianMirror([...parseDeb822(thirdParty), ...parseDeb822(deb822)]);
    expect(m?.uri).toBe('file:/srv/mirror/debian');
    expect(m?.signedBy).toBe('/usr/share/keyrings/debian-archive-keyring.gpg');
  });

  it('reads one-line sources.list entries with options', () => {
    const m = debianMirror(parseOneLine('deb [arch=amd64 signed-by=/k.gpg] file:/srv/other/debian trixie main contrib\n'));
    expect(m).toMatchObject({ uri: 'file:/srv/other/debian', signedBy: '/k.gpg' });
  });

  it('finds nothing when only third-party repositories are configured', () => {
    expect(debianMirror(parseDeb822(thirdParty))).toBeUndefined();
  });
});
