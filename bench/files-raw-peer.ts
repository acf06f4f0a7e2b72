// The file bench's baseline receiver, in its own process like the Parley receiver: a bare Node
// TLS 1.3 server that writes what arrives to a file, fsyncs it once all N bytes are there, and
// says "done".
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import tls from 'node:tls';
import { generateIdentity } from '../main/core/identity/identity.ts';

const [file, expect] = [process.argv[2]!, Number(process.argv[3])];
const id = generateIdentity();
const server = tls.createServer({ key: id.keyPem, cert: id.certPem, minVersion: 'TLSv1.3' }, (s) => {
  const out = createWriteStream(file);
  let got = 0;
  s.pipe(out);
  s.on('data', (d: Buffer) => (got += d.byteLength));
  out.on('finish', async () => {
    const fh = await open(file, 'r+');
    await fh.sync();
    await fh.close();
    process.stdout.write(got === expect ? 'done\n' : `short ${got}\n`);
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as { port: number }).port}\n`));
