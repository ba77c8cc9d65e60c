// CPU reference of one LoRA-adapted linear (model/lora.ts), a test oracle only: plain loops,
// float64. Forward y = x W^T + s * ((x * Mpre) A^T B^T) * Mpost for x (N, in), W (out, in),
// A (r, in), B (out, r), dropout masks Mpre (N, in) and Mpost (N, out) holding 0 or 1 / (1 - p)
// (all ones without dropout). Backward, given dY (N, out): with G = s * dY * Mpost and H = xm A^T,
// dB = G^T H, dA = (G B)^T xm, dx = dY W + ((G B) A) * Mpre; W gets no gradient (frozen).
// Imports nothing from the engine.

export interface LoraCase {
  N: number;
  inF: number;
  outF: number;
  r: number;
  s: number;
  x: Float64Array;
  W: Float64Array;
  A: Float64Array;
  B: Float64Array;
  pre: Float64Array | null;
  post: Float64Array | null;
}

function matT(a: Float64Array, b: Float64Array, n: number, k: number, m: number): Float64Array {
  // a (n, k) times b (m, k)^T -> (n, m)
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      let acc = 0;
      for (let t = 0; t < k; t++) acc += a[i * k + t] * b[j * k + t];
      out[i * m + j] = acc;
    }
  return out;
}

function mat(a: Float64Array, b: Float64Array, n: number, k: number, m: number): Float64Array {
  // a (n, k) times b (k, m) -> (n, m)
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    for (let t = 0; t < k; t++) {
      const v = a[i * k + t];
      for (let j = 0; j < m; j++) out[i * m + j] += v * b[t * m + j];
    }
  return out;
}

function tmat(a: Float64Array, b: Float64Array, n: number, k: number, m: number): Float64Array {
  // a (n, k)^T times b (n, m) -> (k, m)
  const out = new Float64Array(k * m);
  for (let i = 0; i < n; i++)
    for (let t = 0; t < k; t++) {
      const v = a[i * k + t];
      for (let j = 0; j < m; j++) out[t * m + j] += v * b[i * m + j];
    }
  return out;
}

const masked = (x: Float64Array, m: Float64Array | null) => (m ? x.map((v, i) => v * m[i]) : x);

export function loraLinearRef(c: LoraCase): Float64Array {
  const xm = masked(c.x, c.pre);
  const h = matT(xm, c.A, c.N, c.inF, c.r); // (N, r)
  const d = masked(
    matT(h, c.B, c.N, c.r, c.outF).map((v) => v * c.s),
    c.post,
  );
  const y = matT(c.x, c.W, c.N, c.inF, c.outF);
  return y.map((v, i) => v + d[i]);
}

export function loraLinearRefBackward(
  c: LoraCase,
  dY: Float64Array,
): { dx: Float64Array; dA: Float64Array; dB: Float64Array } {
  const xm = masked(c.x, c.pre);
  const h = matT(xm, c.A, c.N, c.inF, c.r); // (N, r)
  const G = masked(
    dY.map((v) => v * c.s),
    c.post,
  ); // (N, out)
  const dB = tmat(G, h, c.N, c.outF, c.r); // (out, r)
  const GB = mat(G, c.B, c.N, c.outF, c.r); // (N, r)
  const dA = tmat(GB, xm, c.N, c.r, c.inF); // (r, in)
  const viaW = mat(dY, c.W, c.N, c.outF, c.inF);
  const viaA = masked(mat(GB, c.A, c.N, c.r, c.inF), c.pre);
  return { dx: viaW.map((v, i) => v + viaA[i]), dA, dB };
}
