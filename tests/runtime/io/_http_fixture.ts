// A local HTTP file server for download tests (127.0.0.1, a free port):
// serves byte arrays by path, with or without range requests, can cut a
// response off mid-body, and counts the body bytes it sent. Never contacts
// anything outside this process.

export interface ServedFile {
  bytes: Uint8Array;
}

export interface FileServerOptions {
  /** Honour Range headers (206); otherwise always 200 with the whole file. */
  ranges?: boolean;
}

export interface FileServer {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  readonly base: string;
  readonly files: Map<string, Uint8Array>;
  ranges: boolean;
  /** Cut the next `count` responses off after this many body bytes. */
  cutAfter(bytes: number, count?: number): void;
  /** Body bytes sent so far (attempted, for cut responses). */
  bytesSent: number;
  /** Requests seen: path and Range header. */
  readonly requests: { path: string; range: string | null; status: number }[];
  close(): Promise<void>;
}

export function startFileServer(options: FileServerOptions = {}): FileServer {
  const files = new Map<string, Uint8Array>();
  let cut: { after: number; left: number } | null = null;
  const state = {
    ranges: options.ranges ?? true,
    bytesSent: 0,
    requests: [] as FileServer["requests"],
  };
  const send = (
    body: Uint8Array,
    status: number,
    headers: Record<string, string>,
  ): Response => {
    headers["content-length"] = String(body.length);
    if (cut && cut.left > 0) {
      cut.left--;
      const keep = body.subarray(0, Math.min(cut.after, body.length));
      state.bytesSent += keep.length;
      // Send part of the body and end the stream: the connection closes
      // with the promised Content-Length unmet.
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(keep.slice());
          controller.close();
        },
      });
      return new Response(stream, { status, headers });
    }
    state.bytesSent += body.length;
    return new Response(body.slice(), { status, headers });
  };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => {
      const path = new URL(request.url).pathname;
      const range = request.headers.get("range");
      const bytes = files.get(path);
      const log = (status: number) =>
        state.requests.push({ path, range, status });
      if (!bytes) {
        log(404);
        return new Response("not found", { status: 404 });
      }
      const m = state.ranges && range
        ? /^bytes=(\d+)-(\d*)$/.exec(range)
        : null;
      if (m) {
        const start = Number(m[1]);
        const end = m[2]
          ? Math.min(Number(m[2]) + 1, bytes.length)
          : bytes.length;
        if (start >= bytes.length) {
          log(416);
          return new Response(null, {
            status: 416,
            headers: { "content-range": `bytes */${bytes.length}` },
          });
        }
        log(206);
        return send(bytes.subarray(start, end), 206, {
          "content-range": `bytes ${start}-${end - 1}/${bytes.length}`,
          "accept-ranges": "bytes",
        });
      }
      log(200);
      return send(bytes, 200, state.ranges ? { "accept-ranges": "bytes" } : {});
    },
  );
  const addr = server.addr as Deno.NetAddr;
  return {
    base: `http://127.0.0.1:${addr.port}`,
    files,
    get ranges() {
      return state.ranges;
    },
    set ranges(v: boolean) {
      state.ranges = v;
    },
    cutAfter(after: number, count = 1) {
      cut = { after, left: count };
    },
    get bytesSent() {
      return state.bytesSent;
    },
    set bytesSent(v: number) {
      state.bytesSent = v;
    },
    requests: state.requests,
    close: async () => {
      await server.shutdown();
    },
  };
}

/** Deterministic pseudo-random bytes. */
export function randomBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}
