// GET /status: the relay's state as JSON, for admins and monitoring. It lists member IDs and
// IP addresses, so it listens on loopback unless the admin decides otherwise.
import http from 'node:http';

export async function startStatusServer(host: string, port: number, snapshot: () => unknown): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url !== '/status' && req.url !== '/status/')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /status\n');
      return;
    }
    let body: string;
    try {
      body = JSON.stringify(snapshot());
    } catch {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('status unavailable\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(`${body}\n`);
  });
  server.headersTimeout = 5000;
  server.requestTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
