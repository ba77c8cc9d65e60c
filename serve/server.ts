// `dllm-wgpu serve`: an OpenAI-compatible HTTP API over one loaded model (node:http, no framework).
// Routes: GET / (the web page, serve/page.ts), GET /v1/models (and /v1/models/<id>),
// POST /v1/completions, POST /v1/chat/completions, GET /v1/dllm/stats (queue and batch counters),
// and for the page's in-browser mode GET /dllm-wgpu.js (the engine bundle), GET /v1/dllm/checkpoint
// (what the browser may load) and GET /v1/dllm/checkpoint/<file> (the checkpoint's own files,
// looked up by exact name in a fixed table: serve/files.ts); anything else is a 404, so no URL
// reaches another file. Responses are OpenAI's shapes (id, object, created, model,
// choices with finish_reason, usage); `stream: true` answers with server-sent events, one chunk per
// committed block and `data: [DONE]` last; with `dllm_steps: true` every denoising step also comes
// as `event: dllm.step` (the generated region, masked positions null).
// Errors are OpenAI's error JSON: 400 bad input, 404, 405, 413 body over --max-body, 429 full
// queue (with Retry-After), 503 shutting down, 500 a failure of the model run.
// Deliberately not here: validation (request.ts), batching (batcher.ts), answer text (rows.ts).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { LLaDAModel } from '../model/llada.ts';
import { endTokenIds } from '../model/tokenizer.ts';
import { Batcher, type Job, type RowSink } from './batcher.ts';
import { HttpError, parseRequest, type ParsedRequest, type ServeLimits } from './request.ts';
import { RowText } from './rows.ts';
import { PAGE_HTML } from './page.ts';
import { BUNDLE_ROUTE, FILES_ROUTE, browserRoute, checkpointFiles } from './files.ts';

export interface ServeOptions extends ServeLimits {
  /** The id /v1/models lists and responses carry. */
  modelId: string;
  maxQueue: number;
  /** Largest request body in bytes (--max-body). */
  maxBody: number;
  /** The checkpoint folder the model came from: its files are offered to the page's in-browser mode. */
  checkpointDir?: string;
  /** The model carries a LoRA adapter (which the in-browser mode does not load). */
  adapter?: boolean;
}

export interface DllmServer {
  http: Server;
  batcher: Batcher;
  /** Stop accepting, answer waiting requests 503, let the running batch finish (or, with `cancel`, stop it). */
  shutdown(cancel?: boolean): Promise<void>;
  /** Stop the running batch at its next step (a second signal during shutdown). */
  abort(): void;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers });
  res.end(data);
}

function sendError(res: ServerResponse, e: HttpError): void {
  const headers: Record<string, string> = {};
  const ra = (e as HttpError & { retryAfter?: number }).retryAfter;
  if (ra !== undefined) headers['retry-after'] = String(ra);
  if (e.status === 413) headers.connection = 'close';
  sendJson(res, e.status, { error: { message: e.message, type: e.type, param: e.param, code: e.code } }, headers);
}

/** The request body, at most `max` bytes (413 beyond). */
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const len = Number(req.headers['content-length']);
    const tooBig = () => new HttpError(413, `the request body exceeds the server's limit of ${max} bytes (--max-body)`);
    if (len > max) return reject(tooBig());
    const parts: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > max) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooBig());
      } else parts.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

export function startServer(model: LLaDAModel, o: ServeOptions): DllmServer {
  const batcher = new Batcher(model, { maxBatch: o.maxBatch, maxQueue: o.maxQueue });
  const tok = model.tokenizer;
  const endIds = tok ? endTokenIds(tok) : [model.config.eos_token_id];
  const created = Math.floor(Date.now() / 1000);
  let closing = false,
    aborting = false;
  const modelObj = { id: o.modelId, object: 'model', created, owned_by: 'dllm-wgpu' };
  const files = o.checkpointDir ? checkpointFiles(o.checkpointDir) : null;

  async function completion(req: IncomingMessage, res: ServerResponse, chat: boolean): Promise<void> {
    if (closing) throw new HttpError(503, 'the server is shutting down');
    const raw = await readBody(req, o.maxBody);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (e) {
      throw new HttpError(400, `the request body is not valid JSON (${(e as Error).message})`);
    }
    const p = parseRequest(body, chat, model, o);
    await answer(p, res, chat);
  }

  function answer(p: ParsedRequest, res: ServerResponse, chat: boolean): Promise<void> {
    const id = `${chat ? 'chatcmpl' : 'cmpl'}-${randomBytes(12).toString('hex')}`;
    const object = chat ? (p.stream ? 'chat.completion.chunk' : 'chat.completion') : 'text_completion';
    const head = { id, object, created: Math.floor(Date.now() / 1000), model: o.modelId };
    const texts = p.rows.map(() => new RowText(tok, endIds, model.config.mask_token_id, p.knobs.blockLength, p.stop));
    let gone = false,
      finished = false;
    let open = p.rows.length;
    const usage = () => {
      const prompt = p.rows.reduce((n, r, i) => n + (i % p.n === 0 ? r.ids.length : 0), 0);
      const completion = texts.reduce((n, t) => n + t.ids.length, 0);
      return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
    };
    const sse = (data: unknown, event?: string) => {
      if (!gone)
        res.write(
          `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`,
        );
    };
    const choiceChunk = (i: number, text: string, finish: string | null, extra: object = {}) =>
      chat
        ? {
            index: i,
            delta: text || finish ? { content: text } : { role: 'assistant', content: '' },
            logprobs: null,
            finish_reason: finish,
            ...extra,
          }
        : { index: i, text, logprobs: null, finish_reason: finish, ...extra };
    const t0 = performance.now();
    let nfe = 0;
    return new Promise<void>((resolve) => {
      const finishAll = (err?: Error) => {
        if (finished) return;
        finished = true;
        if (err) {
          const e = err instanceof HttpError ? err : new HttpError(500, `the model run failed: ${err.message}`);
          if (p.stream) {
            sse({ error: { message: e.message, type: e.type, param: null, code: null } });
            if (!gone) res.end();
          } else sendError(res, e);
          return resolve();
        }
        const dllm = { nfe, seconds: (performance.now() - t0) / 1000 };
        if (p.stream) {
          if (p.includeUsage) sse({ ...head, choices: [], usage: usage() });
          sse('[DONE]');
          if (!gone) res.end();
        } else {
          const choices = texts.map((t, i) =>
            chat
              ? {
                  index: i,
                  message: { role: 'assistant', content: t.text },
                  logprobs: null,
                  finish_reason: t.finish,
                  token_ids: t.ids,
                }
              : { index: i, text: t.text, logprobs: null, finish_reason: t.finish, token_ids: t.ids },
          );
          sendJson(res, 200, { ...head, choices, usage: usage(), dllm });
        }
        resolve();
      };
      const rowDone = (i: number, err?: Error) => {
        if (texts[i].finish && p.stream)
          sse({ ...head, choices: [choiceChunk(i, '', texts[i].finish, { token_ids: texts[i].ids })] });
        if (--open === 0 || err) finishAll(err);
      };
      const rows: RowSink[] = p.rows.map((r, i) => {
        const t = texts[i];
        let ended = false;
        return {
          ids: r.ids,
          seed: r.seed,
          cancelled: () => gone || ended || aborting,
          onStep(gen, info) {
            nfe = Math.max(nfe, info.nfe);
            if (ended || gone) return;
            if (p.stream && p.dllmSteps)
              sse(
                {
                  index: i,
                  nfe: info.nfe,
                  block: info.block,
                  step: info.step,
                  canvas: t.canvas(gen),
                  elapsed_s: (performance.now() - t0) / 1000,
                },
                'dllm.step',
              );
            const delta = t.update(gen);
            if (delta && p.stream) sse({ ...head, choices: [choiceChunk(i, delta, null)] });
            if (t.finish) {
              ended = true;
              rowDone(i);
            }
          },
          onEnd(gen, err) {
            if (ended) return;
            ended = true;
            if (!err && !gone) {
              const delta = t.update(gen, true);
              if (delta && p.stream) sse({ ...head, choices: [choiceChunk(i, delta, null)] });
            }
            rowDone(i, err);
          },
        };
      });
      const job: Job = { knobs: p.knobs, rows };
      res.on('close', () => {
        if (res.writableFinished) return;
        gone = true;
        batcher.remove(job);
        resolve();
      });
      batcher.submit(job);
      if (p.stream) {
        res.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-cache',
          connection: 'keep-alive',
        });
        if (chat) p.rows.forEach((_, i) => sse({ ...head, choices: [choiceChunk(i, '', null)] }));
      }
    });
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const method = req.method ?? 'GET';
    const only = (m: string) => {
      if (method !== m) throw new HttpError(405, `${method} ${path}: use ${m}`);
    };
    if (path === '/' || path === '/index.html') {
      only('GET');
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-length': Buffer.byteLength(PAGE_HTML),
      });
      return void res.end(PAGE_HTML);
    }
    if (path === '/v1/models') {
      only('GET');
      return sendJson(res, 200, { object: 'list', data: [modelObj] });
    }
    if (path.startsWith('/v1/models/')) {
      only('GET');
      if (decodeURIComponent(path.slice('/v1/models/'.length)) !== o.modelId)
        throw new HttpError(
          404,
          `no model ${path.slice(11)}: this server has ${o.modelId}`,
          'model',
          'invalid_request_error',
          'model_not_found',
        );
      return sendJson(res, 200, modelObj);
    }
    if (path === BUNDLE_ROUTE || path === FILES_ROUTE || path.startsWith(FILES_ROUTE + '/')) {
      if (method !== 'HEAD') only('GET');
      const manifest = () => ({
        model: o.modelId,
        dtype: model.dtype,
        adapter: o.adapter ?? false,
        limits: { maxBatch: o.maxBatch, maxGenLength: o.maxGenLength, defaultGenLength: o.defaultGenLength },
      });
      return browserRoute(req, res, path, files, manifest);
    }
    if (path === '/v1/dllm/stats') {
      only('GET');
      return sendJson(res, 200, batcher.stats);
    }
    if (path === '/v1/completions' || path === '/v1/chat/completions') {
      only('POST');
      return completion(req, res, path === '/v1/chat/completions');
    }
    throw new HttpError(404, `no route ${method} ${path.slice(0, 200)}`);
  }

  const http = createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      if (e instanceof HttpError) sendError(res, e);
      else sendError(res, new HttpError(500, `internal error: ${(e as Error).message}`));
    });
  });
  // Idle keep-alive sockets stay open longer than clients keep them (undici: 4 s), so a client never
  // reuses a socket the server is closing at that moment (Node's default, 5 s, races with it).
  http.keepAliveTimeout = 65_000;
  http.headersTimeout = 66_000;
  http.on('clientError', (_e, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
  });

  return {
    http,
    batcher,
    async shutdown(cancel = false) {
      closing = true;
      http.close();
      for (const job of batcher.takeWaiting())
        for (const r of job.rows) r.onEnd(new Int32Array(0), new HttpError(503, 'the server is shutting down'));
      aborting = cancel;
      await batcher.whenIdle();
      http.closeAllConnections();
    },
    abort() {
      aborting = true;
    },
  };
}
