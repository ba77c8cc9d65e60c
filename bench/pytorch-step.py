# PyTorch CPU peer for `dllm-wgpu bench train`: one MDLM training step (bidirectional LLaMA-style
# block as LLaDA: RMSNorm, RoPE, SwiGLU, no causal mask; masked-token cross-entropy; AdamW) of the
# same shape as ours, timed over `reps` steps after a warm-up. Prints one JSON line.
# Written for this benchmark from the model definition; not part of the test suite.
import json, os, sys, time
import torch
import torch.nn.functional as F

s = json.loads(sys.argv[1])
C, L, H, Fh, V, T, B, reps = s["C"], s["L"], s["H"], s["F"], s["V"], s["T"], s["B"], s["reps"]
D = C // H
torch.manual_seed(0)
torch.set_num_threads(os.cpu_count() or 1)  # all cores, as our engine uses them

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
        att = torch.softmax((q @ k.transpose(-1, -2)) / D ** 0.5, dim=-1)  # no causal mask
        a = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + a @ params[f"{l}.o"].T
        h = rms(x, params[f"{l}.n2"])
        x = x + (F.silu(h @ params[f"{l}.g"].T) * (h @ params[f"{l}.u"].T)) @ params[f"{l}.d"].T
    logits = rms(x, params["lnf"]) @ params["head"].T
    loss = (F.cross_entropy(logits.view(-1, V), ids.view(-1), reduction="none") * w.view(-1)).sum()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params.values(), 1.0)
    opt.step()

step(); step()
times = []
for _ in range(reps):
    t = time.perf_counter(); step(); times.append((time.perf_counter() - t) * 1000)
times.sort()
ms = times[len(times) // 2]
print(json.dumps({"ms": ms, "tokens_per_sec": B * T * 1000 / ms, "torch": torch.__version__, "threads": torch.get_num_threads()}))
