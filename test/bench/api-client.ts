// A keep-alive HTTP/1.1 client for an engine's Unix socket: the bench's API loops go over
// reused connections, so they time the engine rather than connection set-up or a CLI.
import { Agent, request, type IncomingMessage } from 'node:http';

export interface Reply {
  status: number;
  body: string;
}

/** A response whose headers have arrived; its body comes later (wait?condition=next-exit). */
export interface OpenReply {
  status: number;
  body: Promise<string>;
}

export class ApiClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 16 });

  constructor(readonly socket: string) {}

  /** Resolves once the status line and headers are in. */
  open(method: string, path: string, body?: object): Promise<OpenReply> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { Host: 'api.moby.localhost' };
    if (payload) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socket, method, path, headers, agent: this.agent }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        const done = new Promise<string>((ok, fail) => {
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => ok(Buffer.concat(chunks).toString('utf8')));
          res.on('error', fail);
        });
        done.catch(() => { /* surfaced to whoever awaits body */ });
        resolve({ status: res.statusCode ?? 0, body: done });
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  async call(method: string, path: string, body?: object): Promise<Reply> {
    const r = await this.open(method, path, body);
    return { status: r.status, body: await r.body };
  }

  /** Like call(), but a status other than `expect` is an error naming the route and the reply. */
  async expect(expect: number, method: string, path: string, body?: object): Promise<string> {
    const r = await this.call(method, path, body);
    if (r.status !== expect) throw new Error(`${method} ${path}: ${r.status} ${r.body.trim()} (expected ${expect})`);
    return r.body;
  }

  close(): void {
    this.agent.destroy();
  }
}
