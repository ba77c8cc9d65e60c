// The web page `serve` answers at `/`: a prompt, the sampler's knobs, and the generated region drawn
// live as the server's `dllm.step` events arrive (masked positions as shaded cells, each committed
// token in its cell, the ones committed by the latest step highlighted), with the forward count
// (NFE), the elapsed time and tokens/s. It talks to the same /v1 API any client uses (streamed,
// with dllm_steps). "ms per step" replays the steps no faster than that, to watch them.
// "run on: this browser" switches to the in-browser mode: the page imports the engine bundle
// (/dllm-wgpu.js, serve/in-browser.ts), loads the checkpoint's files into the tab's own WebGPU once
// (download progress shown), names the adapter the browser gave, and runs the same request there,
// drawing the same canvas from the sampler's step callback; the server computes nothing for it.
// Self-contained (no external scripts or styles), so it works offline on loopback. After a run the
// body carries data-state="done", data-nfe and data-token-ids (the answer's ids), for tests.

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>dllm-wgpu</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; max-width: 60em; color: #222; }
  h1 { font-size: 1.3em; margin: 0 0 .2em; }
  .sub { color: #666; margin-bottom: 1em; }
  textarea { width: 100%; height: 4em; font: 14px monospace; box-sizing: border-box; }
  .knobs { display: flex; flex-wrap: wrap; gap: .6em 1.2em; margin: .6em 0; }
  .knobs label { display: flex; flex-direction: column; font-size: 12px; color: #555; }
  .knobs input { width: 7em; font: 14px monospace; }
  .knobs select { font: 14px monospace; }
  .knobs input[type=checkbox] { width: auto; }
  button { font-size: 15px; padding: .3em 1.2em; }
  #canvas { display: flex; flex-wrap: wrap; gap: 3px; margin: 1em 0; min-height: 2.2em; }
  #canvas span { min-width: 1.4em; height: 1.8em; line-height: 1.8em; text-align: center; padding: 0 2px;
    font: 15px monospace; border-radius: 3px; background: #e8f0e8; white-space: pre; }
  #canvas span.m { background: repeating-linear-gradient(45deg, #bbb, #bbb 3px, #ccc 3px, #ccc 6px); color: transparent; }
  #canvas span.new { background: #ffd54f; }
  #canvas span.sp { color: #888; font-size: 11px; }
  .stats { display: flex; gap: 2em; font: 14px monospace; }
  #output { white-space: pre-wrap; font: 15px monospace; background: #f6f6f6; padding: .6em; min-height: 1.5em; }
  #error { color: #b00; }
</style>
</head>
<body>
<h1>dllm-wgpu</h1>
<div class="sub">masked diffusion sampling, live: <span id="model">…</span></div>
<textarea id="prompt">37+48=</textarea>
<div class="knobs">
  <label>run on<select id="mode"><option value="server">the server</option><option value="browser">this browser</option></select></label>
  <label>endpoint<select id="endpoint"><option value="completions">completions</option><option value="chat">chat</option></select></label>
  <label>max_tokens<input id="max_tokens" type="number" value="16" min="1"></label>
  <label>block_length<input id="block_length" type="number" value="4" min="1"></label>
  <label>steps<input id="steps" type="number" value="16" min="1"></label>
  <label>temperature<input id="temperature" type="number" value="0" min="0" step="0.1"></label>
  <label>threshold<input id="threshold" type="number" placeholder="off" min="0" max="1" step="0.05"></label>
  <label>seed<input id="seed" type="number" value="0" min="0"></label>
  <label>ms per step<input id="delay" type="number" value="0" min="0"></label>
  <label>no end token<input id="no_eos" type="checkbox"></label>
</div>
<button id="run">Run</button>
<div id="canvas"></div>
<div class="stats"><span id="adapter"></span><span>NFE <b id="nfe">0</b></span><span>time <b id="time">0.00</b> s</span><span><b id="tps">0</b> tokens/s</span><span id="status"></span></div>
<h3>answer</h3>
<div id="output"></div>
<div id="error"></div>
<script>
const $ = (id) => document.getElementById(id);
fetch('/v1/models').then((r) => r.json()).then((m) => { $('model').textContent = m.data[0].id; }).catch(() => {});
const num = (id) => ($(id).value === '' ? undefined : Number($(id).value));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function draw(canvas, prev) {
  const box = $('canvas');
  box.textContent = '';
  canvas.forEach((t, i) => {
    const s = document.createElement('span');
    if (t === null) { s.className = 'm'; s.textContent = '_'; }
    else {
      const special = /^<\\|.*\\|>$/.test(t);
      s.textContent = special ? t.replace(/<\\||\\|>/g, '') : t;
      s.className = (prev && prev[i] === null ? 'new ' : '') + (special ? 'sp' : '');
    }
    box.appendChild(s);
  });
}

async function run() {
  const chat = $('endpoint').value === 'chat';
  const body = { model: 'page', stream: true, dllm_steps: true, max_tokens: num('max_tokens'), block_length: num('block_length'),
    steps: num('steps'), temperature: num('temperature'), threshold: num('threshold'), seed: num('seed'),
    logits_eos_inf: $('no_eos').checked };
  if (chat) body.messages = [{ role: 'user', content: $('prompt').value }]; else body.prompt = $('prompt').value;
  const delay = num('delay') || 0;
  document.body.dataset.state = 'running';
  $('output').textContent = ''; $('error').textContent = ''; $('status').textContent = 'running';
  const t0 = performance.now();
  let prev = null, ids = null;
  const res = await fetch('/v1/' + (chat ? 'chat/completions' : 'completions'), { method: 'POST', body: JSON.stringify(body) });
  if (!res.ok) { const e = await res.json(); throw new Error(e.error.message); }
  const reader = res.body.getReader(), dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let k;
    while ((k = buf.indexOf('\\n\\n')) >= 0) {
      const ev = buf.slice(0, k); buf = buf.slice(k + 2);
      const data = ev.slice(ev.indexOf('data: ') + 6);
      if (data === '[DONE]') continue;
      const msg = JSON.parse(data);
      if (msg.error) throw new Error(msg.error.message);
      if (ev.startsWith('event: dllm.step')) {
        if (msg.index !== 0) continue;
        draw(msg.canvas, prev); prev = msg.canvas;
        const filled = msg.canvas.filter((t) => t !== null).length;
        $('nfe').textContent = msg.nfe; document.body.dataset.nfe = msg.nfe;
        $('time').textContent = msg.elapsed_s.toFixed(2);
        $('tps').textContent = (filled / Math.max(msg.elapsed_s, 1e-3)).toFixed(1);
        if (delay) await sleep(delay);
      } else {
        const c = msg.choices && msg.choices[0];
        if (!c) continue;
        $('output').textContent += (chat ? c.delta.content : c.text) || '';
        if (c.token_ids) ids = c.token_ids;
      }
    }
  }
  $('status').textContent = 'done in ' + ((performance.now() - t0) / 1000).toFixed(2) + ' s';
  document.body.dataset.tokenIds = JSON.stringify(ids);
  document.body.dataset.state = 'done';
}

let local = null;
async function browserModel() {
  if (local) return local;
  $('status').textContent = 'loading the engine';
  const bundle = '/dllm-wgpu.js';
  const engine = await import(bundle).catch(async () => {
    const r = await fetch(bundle);
    throw new Error(r.ok ? 'the engine bundle did not load' : (await r.json()).error.message);
  });
  const mib = (b) => (b / 2 ** 20).toFixed(1);
  local = await engine.openBrowserModel(new URL('/v1/dllm/checkpoint', location.href).href, (p) => {
    $('status').textContent = 'loading ' + p.file + ' ' + mib(p.bytes) + ' / ' + mib(p.total) + ' MiB';
  });
  $('adapter').textContent = 'adapter: ' + local.adapterName;
  document.body.dataset.adapter = local.adapterName;
  return local;
}

async function runInBrowser() {
  const chat = $('endpoint').value === 'chat';
  const body = { max_tokens: num('max_tokens'), block_length: num('block_length'), steps: num('steps'),
    temperature: num('temperature'), threshold: num('threshold'), seed: num('seed'), logits_eos_inf: $('no_eos').checked };
  if (chat) body.messages = [{ role: 'user', content: $('prompt').value }]; else body.prompt = $('prompt').value;
  document.body.dataset.state = 'running';
  $('output').textContent = ''; $('error').textContent = '';
  const m = await browserModel();
  $('status').textContent = 'running in this browser';
  let prev = null;
  const a = await m.run(body, chat, (s) => {
    draw(s.canvas, prev); prev = s.canvas;
    const filled = s.canvas.filter((t) => t !== null).length;
    $('nfe').textContent = s.nfe; document.body.dataset.nfe = s.nfe;
    $('time').textContent = s.elapsedS.toFixed(2);
    $('tps').textContent = (filled / Math.max(s.elapsedS, 1e-3)).toFixed(1);
  });
  $('output').textContent = a.text;
  $('status').textContent = 'done in ' + a.seconds.toFixed(2) + ' s in this browser';
  document.body.dataset.tokenIds = JSON.stringify(a.tokenIds);
  document.body.dataset.state = 'done';
}

$('run').onclick = () => ($('mode').value === 'browser' ? runInBrowser() : run()).catch((e) => {
  $('error').textContent = String(e.message || e);
  $('status').textContent = 'failed';
  document.body.dataset.state = 'failed';
});
</script>
</body>
</html>
`;
