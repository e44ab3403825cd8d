// A keep-alive HTTP/1.1 client for an engine's Unix socket: the bench's API loops go over
// reused connections, so they time the engine rather than connection set-up or a CLI. It writes
// each request in one write and parses the reply itself (status line, headers, a body by
// Content-Length or chunked): node:http's client spent ~0.5 ms of CPU per request here, on the
// same two cores as the engine it measures. Both engines are measured through it.
import { connect, type Socket } from 'node:net';

export interface Reply {
  status: number;
  body: string;
}

/** A response whose headers have arrived; its body comes later (wait?condition=next-exit). */
export interface OpenReply {
  status: number;
  body: Promise<string>;
}

interface Pending {
  headers: (r: OpenReply) => void;
  body: (text: string) => void;
  fail: (err: Error) => void;
  /** the body is settled once the headers are, so a failure after them goes here */
  failBody?: (err: Error) => void;
  noBody: boolean;
}

const CRLF2 = Buffer.from('\r\n\r\n');

/** One connection: one request at a time, its reply parsed as it comes. */
class Connection {
  private readonly sock: Socket;
  private buf: Buffer = Buffer.alloc(0);
  private pending: Pending | undefined;
  /** after the headers: what is left of the body */
  private body: { length: number; parts: Buffer[]; have: number } | { chunked: true; parts: Buffer[]; need?: number } | { untilClose: true; parts: Buffer[] } | undefined;
  private chunks: Buffer[] = [];
  dead = false;

  constructor(path: string, private readonly idle: (c: Connection) => void) {
    this.sock = connect(path);
    this.sock.on('data', (d: Buffer) => this.onData(d));
    const end = (err?: Error) => {
      this.dead = true;
      const p = this.pending;
      this.pending = undefined;
      if (!p) return;
      if (this.body && 'untilClose' in this.body) {
        p.body(Buffer.concat(this.body.parts).toString('utf8'));
        return;
      }
      const e = err ?? new Error('the engine closed the connection before its reply was complete');
      if (p.failBody) p.failBody(e);
      else p.fail(e);
    };
    this.sock.on('error', end);
    this.sock.on('close', () => end());
  }

  send(method: string, path: string, payload: Buffer | undefined, p: Pending): void {
    this.pending = p;
    this.buf = Buffer.alloc(0);
    this.body = undefined;
    let head = `${method} ${path} HTTP/1.1\r\nHost: api.moby.localhost\r\n`;
    if (payload) head += `Content-Type: application/json\r\nContent-Length: ${payload.length}\r\n`;
    else if (method === 'POST' || method === 'PUT') head += 'Content-Length: 0\r\n';
    head += '\r\n';
    this.sock.write(payload ? Buffer.concat([Buffer.from(head, 'latin1'), payload]) : head);
  }

  close(): void {
    this.sock.destroy();
  }

  private onData(d: Buffer): void {
    const p = this.pending;
    if (!p) return;
    const b = this.body;
    if (b && !('chunked' in b)) {
      // a body by length or to the end: its pieces kept as they come (no copy per piece)
      b.parts.push(d);
      if ('length' in b) {
        b.have += d.length;
        if (b.have >= b.length) this.finish(p, Buffer.concat(b.parts).subarray(0, b.length));
      }
      return;
    }
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    if (!this.body) {
      const end = this.buf.indexOf(CRLF2);
      if (end < 0) return;
      const lines = this.buf.subarray(0, end).toString('latin1').split('\r\n');
      this.buf = this.buf.subarray(end + 4);
      const status = Number(lines[0]!.split(' ')[1]);
      const headers = new Map<string, string>();
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
      }
      const length = headers.get('content-length');
      if (p.noBody || status === 204 || status === 304 || (status >= 100 && status < 200)) this.body = { length: 0, parts: [], have: 0 };
      else if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) this.body = { chunked: true, parts: [] };
      else if (length !== undefined) this.body = { length: Number(length), parts: [], have: 0 };
      else this.body = { untilClose: true, parts: [] };
      const text = new Promise<string>((ok, fail) => {
        p.body = ok;
        p.failBody = fail;
      });
      text.catch(() => { /* surfaced to whoever awaits body */ });
      p.headers({ status, body: text });
    }
    this.readBody(p);
  }

  private readBody(p: Pending): void {
    const b = this.body!;
    if (!('chunked' in b)) {
      // what came with the headers; the rest arrives through onData
      const first = this.buf;
      this.buf = Buffer.alloc(0);
      if (first.length) b.parts.push(first);
      if ('length' in b) {
        b.have += first.length;
        if (b.have >= b.length) this.finish(p, Buffer.concat(b.parts).subarray(0, b.length));
      }
      return;
    }
    for (;;) {
      if (b.need === undefined) {
        const eol = this.buf.indexOf('\r\n');
        if (eol < 0) return;
        b.need = parseInt(this.buf.subarray(0, eol).toString('latin1'), 16);
        this.buf = this.buf.subarray(eol + 2);
      }
      if (this.buf.length < b.need + 2) return;
      if (b.need === 0) {
        // the last chunk: trailers, if any, end with an empty line (none from either engine)
        this.finish(p, Buffer.concat(b.parts));
        return;
      }
      b.parts.push(this.buf.subarray(0, b.need));
      this.buf = this.buf.subarray(b.need + 2);
      b.need = undefined;
    }
  }

  private finish(p: Pending, body: Buffer): void {
    this.pending = undefined;
    this.body = undefined;
    this.buf = Buffer.alloc(0);
    p.body(body.toString('utf8'));
    if (!this.dead) this.idle(this);
  }
}

export class ApiClient {
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();

  constructor(readonly socket: string) {}

  /** Resolves once the status line and headers are in. */
  open(method: string, path: string, body?: object): Promise<OpenReply> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    let conn = this.idle.pop();
    while (conn?.dead) conn = this.idle.pop();
    if (!conn) {
      conn = new Connection(this.socket, (c) => this.idle.push(c));
      this.all.add(conn);
    }
    const c = conn;
    return new Promise((resolve, reject) => {
      c.send(method, path, payload, { headers: resolve, body: () => undefined, fail: reject, noBody: method === 'HEAD' });
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
    for (const c of this.all) c.close();
    this.all.clear();
    this.idle.length = 0;
  }
}
