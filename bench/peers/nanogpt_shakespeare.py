#!/usr/bin/env python3
"""The PyTorch peer of the final exam: nanoGPT's shakespeare_char CPU run, same config as
experiments/final_exam/shakespeare_cpu.yaml, written from nanoGPT's model.py / train.py
conventions (pre-LayerNorm GPT without bias, tied lm_head, N(0, 0.02) init with c_proj scaled by
1/sqrt(2 n_layer), AdamW with decay on 2-D tensors, cosine lr with warmup, clip 1.0,
estimate_loss over eval_iters batches every eval_interval iterations).

Usage (Debian's interpreter, apt-get install python3-torch libopenblas0-pthread; without an
optimized BLAS Debian's torch runs its products on the reference BLAS, about 12x slower here):
  /usr/bin/python3 bench/peers/nanogpt_shakespeare.py [--seed 1337] [--max-iters 2000]
      [--threads 2] [--data ../shared/data/tinyshakespeare.txt]
Prints each evaluation, then one line: seed, final val loss, whole-run seconds (the script's own
start to end, data preparation and evaluations included; add interpreter start-up by timing the
command). Not part of the test suite: a timing peer for docs/performance.md.
"""
import argparse
import glob
import math
import os
import sys
import time

START = time.perf_counter()

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class Block(nn.Module):
    def __init__(self, C, nh, n_layer):
        super().__init__()
        self.nh = nh
        self.ln1 = nn.LayerNorm(C, elementwise_affine=True)
        self.attn = nn.Linear(C, 3 * C, bias=False)
        self.attn_proj = nn.Linear(C, C, bias=False)
        self.ln2 = nn.LayerNorm(C, elementwise_affine=True)
        self.fc = nn.Linear(C, 4 * C, bias=False)
        self.fc_proj = nn.Linear(4 * C, C, bias=False)
        for proj in (self.attn_proj, self.fc_proj):
            proj.scaled_init = True

    def forward(self, x, mask):
        B, T, C = x.shape
        q, k, v = self.attn(F.layer_norm(x, (C,), self.ln1.weight, None, 1e-5)).split(C, dim=2)
        q, k, v = (z.view(B, T, self.nh, C // self.nh).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // self.nh))
        att = att.masked_fill(mask[:T, :T], float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.attn_proj(y)
        h = self.fc(F.layer_norm(x, (C,), self.ln2.weight, None, 1e-5))
        return x + self.fc_proj(F.gelu(h))


class GPT(nn.Module):
    def __init__(self, V, Tm, n_layer, nh, C):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(Tm, C)
        self.blocks = nn.ModuleList(Block(C, nh, n_layer) for _ in range(n_layer))
        self.lnf = nn.LayerNorm(C)
        self.register_buffer("mask", ~torch.tril(torch.ones(Tm, Tm, dtype=torch.bool)))
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                std = 0.02 / math.sqrt(2 * n_layer) if getattr(m, "scaled_init", False) else 0.02
                nn.init.normal_(m.weight, 0.0, std)
        for m in self.modules():  # bias=False LayerNorms: weight 1, no bias parameter
            if isinstance(m, nn.LayerNorm):
                m.bias = None

    def forward(self, idx, targets):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for block in self.blocks:
            x = block(x, self.mask)
        x = F.layer_norm(x, (x.shape[-1],), self.lnf.weight, None, 1e-5)
        logits = F.linear(x, self.wte.weight)
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def get_lr(it, lr, min_lr, warmup, decay_iters):
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    if it > decay_iters:
        return min_lr
    ratio = (it - warmup) / (decay_iters - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)


def blas_library():
    """The BLAS that Debian's torch loads (BLAS_INFO=generic): where the libblas.so.3
    alternative points, e.g. .../openblas-pthread/libblas.so.3 or the reference .../blas/..."""
    for libdir in glob.glob("/usr/lib/*-linux-gnu"):
        path = os.path.join(libdir, "libblas.so.3")
        if os.path.exists(path):
            return os.path.realpath(path)
    return "unknown"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_data = os.path.join(here, "..", "..", "..", "shared", "data", "tinyshakespeare.txt")
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--max-iters", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=default_data)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    blas = blas_library()
    if os.path.basename(os.path.dirname(blas)) == "blas":
        print(f"warning: torch runs on the reference BLAS ({blas}), not a timing peer: "
              "apt-get install libopenblas0-pthread", file=sys.stderr, flush=True)
    torch.manual_seed(args.seed)
    B, T, n_layer, nh, C = 12, 64, 4, 4, 128
    eval_interval, eval_iters = 250, 20
    text = open(args.data, encoding="utf-8").read()
    chars = sorted(set(text))
    stoi = {ch: i for i, ch in enumerate(chars)}
    data = torch.tensor([stoi[ch] for ch in text], dtype=torch.long)
    n = int(0.9 * len(data))
    splits = {"train": data[:n], "val": data[n:]}

    def get_batch(split):
        d = splits[split]
        ix = torch.randint(len(d) - T, (B,))
        return torch.stack([d[i : i + T] for i in ix]), torch.stack([d[i + 1 : i + 1 + T] for i in ix])

    model = GPT(len(chars), T, n_layer, nh, C)
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.99), eps=1e-8)

    @torch.no_grad()
    def estimate_loss():
        model.eval()
        out = {}
        for split in ("train", "val"):
            out[split] = sum(model(*get_batch(split)).item() for _ in range(eval_iters)) / eval_iters
        model.train()
        return out

    val = float("nan")
    for it in range(args.max_iters + 1):
        lr = get_lr(it, 1e-3, 1e-4, 100, args.max_iters)
        for g in opt.param_groups:
            g["lr"] = lr
        if it % eval_interval == 0 or it == args.max_iters:
            losses = estimate_loss()
            val = losses["val"]
            print(f"step {it}: train loss {losses['train']:.4f}, val loss {val:.4f}", flush=True)
        if it == args.max_iters:
            break
        x, y = get_batch("train")
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    print(f"seed {args.seed}: val loss {val:.4f}, whole run {time.perf_counter() - START:.1f} s "
          f"(torch {torch.__version__}, {args.threads} threads, BLAS {blas})")


if __name__ == "__main__":
    main()
