# PyTorch CPU peer for `dllm-wgpu bench train`, driven over stdin/stdout one JSON line at a time so
# that its repetitions alternate with ours (bench/torch-peer.ts):
#   {"cmd": "info"}          -> torch version, threads, the BLAS libraries this process mapped, and
#                               torch's own fp32 matmul rate at 1024^3 (median of timed repetitions)
#   {"cmd": "build", ...}    -> one MDLM training step's model of that shape, two warm-up steps
#   {"cmd": "step"}          -> one timed training step: {"ms": ...}
#   {"cmd": "matmul", ...}   -> op(A) @ op(B) with A, B stored as our engine stores them (M, K, N,
#                               trans_a, trans_b), `calls` back-to-back products: {"ms": per call}
# The step is a bidirectional LLaMA-style block as LLaDA's (RMSNorm, RoPE, SwiGLU, no causal mask),
# masked-token cross-entropy, global-norm clip, AdamW; written for this benchmark from the model
# definition; not part of the test suite.
import ctypes, json, os, sys, time
import torch
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(os.cpu_count() or 1)  # all cores, as our engine uses them


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def blas_info():
    """Which BLAS this process really runs: the shared objects mapped into it after a matmul."""
    a = torch.randn(64, 64)
    (a @ a).sum().item()
    libs = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 6:
                continue
            name = os.path.basename(parts[5]).lower()
            real = os.path.realpath(parts[5])
            if any(k in name for k in ("blas", "blis", "mkl", "atlas")) and real not in libs:
                libs.append(real)
    info = {"libs": libs, "build": torch.__config__.show()}
    for p in libs:  # OpenBLAS says which kernels and how many threads it uses
        if "openblas" in os.path.basename(p).lower():
            try:
                lib = ctypes.CDLL(p)
                lib.openblas_get_corename.restype = ctypes.c_char_p
                lib.openblas_get_config.restype = ctypes.c_char_p
                info["openblas"] = {
                    "core": lib.openblas_get_corename().decode(),
                    "config": lib.openblas_get_config().decode(),
                    "threads": lib.openblas_get_num_threads(),
                }
            except (OSError, AttributeError):
                pass
            break
    return info


def matmul_gflops(n=1024, budget_s=3.0):
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    times = []
    t_end = time.perf_counter() + budget_s
    while len(times) < 3 or (len(times) < 10 and time.perf_counter() < t_end):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    times.sort()
    return 2 * n**3 / times[len(times) // 2] / 1e9


def build(s):
    C, L, H, Fh, V, T, B = s["C"], s["L"], s["H"], s["F"], s["V"], s["T"], s["B"]
    D = C // H

    def rms(x, w, eps=1e-5):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    inv = 10000.0 ** (-torch.arange(0, D, 2).float() / D)
    ang = torch.arange(T).float()[:, None] * inv[None, :]
    cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)

    def rope(x):  # (B, H, T, D)
        x1, x2 = x[..., : D // 2], x[..., D // 2 :]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    params = {"wte": torch.randn(V, C) * 0.02, "lnf": torch.ones(C), "head": torch.randn(V, C) * 0.02}
    for l in range(L):
        for n, shp in [("q", (C, C)), ("k", (C, C)), ("v", (C, C)), ("o", (C, C)), ("g", (Fh, C)), ("u", (Fh, C)), ("d", (C, Fh))]:
            params[f"{l}.{n}"] = torch.randn(*shp) * 0.02
        params[f"{l}.n1"] = torch.ones(C)
        params[f"{l}.n2"] = torch.ones(C)
    for p in params.values():
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params.values(), lr=1e-4, betas=(0.9, 0.98), weight_decay=0.1)

    ids = torch.randint(0, V, (B, T))
    noisy = ids.clone()
    noisy[:, 1::2] = 0
    w = (noisy == 0).float() * 2 / (B * T)

    def step():
        opt.zero_grad(set_to_none=True)
        x = params["wte"][noisy]
        for l in range(L):
            h = rms(x, params[f"{l}.n1"])
            q = rope((h @ params[f"{l}.q"].T).view(B, T, H, D).transpose(1, 2))
            k = rope((h @ params[f"{l}.k"].T).view(B, T, H, D).transpose(1, 2))
            v = (h @ params[f"{l}.v"].T).view(B, T, H, D).transpose(1, 2)
            att = torch.softmax((q @ k.transpose(-1, -2)) / D**0.5, dim=-1)  # no causal mask
            a = (att @ v).transpose(1, 2).reshape(B, T, C)
            x = x + a @ params[f"{l}.o"].T
            h = rms(x, params[f"{l}.n2"])
            x = x + (F.silu(h @ params[f"{l}.g"].T) * (h @ params[f"{l}.u"].T)) @ params[f"{l}.d"].T
        logits = rms(x, params["lnf"]) @ params["head"].T
        loss = (F.cross_entropy(logits.view(-1, V), ids.view(-1), reduction="none") * w.view(-1)).sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params.values(), 1.0)
        opt.step()

    step()
    step()
    return step


def matmul_ms(r):
    M, K, N, calls = r["M"], r["K"], r["N"], r.get("calls", 10)
    key = (M, K, N, r["trans_a"], r["trans_b"])
    if key not in mm_cache:
        a = torch.randn(K, M) if r["trans_a"] else torch.randn(M, K)
        b = torch.randn(N, K) if r["trans_b"] else torch.randn(K, N)
        mm_cache.clear()  # one shape at a time: the bench walks them in order
        mm_cache[key] = (a.T if r["trans_a"] else a, b.T if r["trans_b"] else b)
        mm_cache[key][0] @ mm_cache[key][1]
    a, b = mm_cache[key]
    t = time.perf_counter()
    for _ in range(calls):
        a @ b
    return (time.perf_counter() - t) * 1000 / calls


mm_cache = {}
step = None
for line in sys.stdin:
    req = json.loads(line)
    cmd = req["cmd"]
    if cmd == "info":
        reply({"torch": torch.__version__, "threads": torch.get_num_threads(), "blas": blas_info(), "gflops_1024": matmul_gflops()})
    elif cmd == "build":
        step = build(req)
        reply({"ok": True})
    elif cmd == "step":
        t = time.perf_counter()
        step()
        reply({"ms": (time.perf_counter() - t) * 1000})
    elif cmd == "matmul":
        reply({"ms": matmul_ms(req)})
    elif cmd == "quit":
        break
