// The baseline's other end, in its own process like a Parley receiver would be: a bare
// Node TLS 1.3 server that echoes (--echo) or counts bytes and reports when it has N.
import tls from 'node:tls';
import { generateIdentity } from '../main/core/identity/identity.ts';

const mode = process.argv[2] === '--echo' ? 'echo' : 'count';
const expect = Number(process.argv[3] ?? 0);
const id = generateIdentity();
const server = tls.createServer({ key: id.keyPem, cert: id.certPem, minVersion: 'TLSv1.3' }, (s) => {
  s.setNoDelay(true);
  let got = 0;
  s.on('data', (d) => {
    if (mode === 'echo') s.write(d);
    else if ((got += d.length) >= expect) process.stdout.write('done\n');
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as { port: number }).port}\n`));
