"""Many independent head trainings as one vectorised model.

Every member is one `train_heads` run (a `HeadJob`: features, training / validation / test rows,
seed). Members with the same feature sizes train together as stacked parameters ([k, out, in]
per layer): one forward, one backward and one (fused) Adam step serve all k members of a chunk.
Each member keeps what makes it the same function as its stand-alone training:

- the same initialisation (its `DualProjection` is built after ``torch.manual_seed(seed)``, then
  stacked) and the same batch order (``torch.randperm`` from its own generator, seeded alike);
- its own Adam step count and bias corrections (Adam is per element, so stacked Adam is per-member
  Adam); a member without a batch at some step (fewer pairs: ragged sizes) is padded and masked,
  and padding changes neither its loss nor its optimiser state;
- its own validation-based selection and early stopping: a member that stops leaves the chunk (the
  chunk is compacted), its best state kept.

Evaluation (validation and test retrieval, top-1 / top-5) is batched as well, on the distinct rows
of each set (test pairs reuse samples) with `batched_retrieval_both`; the inputs and class masks
of those sets are gathered once per chunk.

Where the time goes on a CPU (1000-d features): the head's matrix products. A wide first layer
(``ONEDNN_MIN_IN`` inputs or more) therefore runs member by member through torch's oneDNN fp32
linear (`_MemberLinear`), which uses AVX-512 where MKL's batched product does not (AMD CPUs);
narrow layers use one batched product (`_StackedLinear`). Both are exact fp32 (they differ from
``nn.Linear`` only in the order of the sums, as any two GEMM libraries do).

Chunks are sized by memory (`default_chunk`: an epoch's inputs, the evaluation inputs, parameters
and Adam state within ``CHUNK_BYTES``) and split over the CPU worker processes; on CUDA one chunk
can hold every member.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.adam import adam

from rram_lsm.heads.losses import batched_contrastive_loss, batched_similarity, full_batch_loss
from rram_lsm.heads.models import DualProjection
from rram_lsm.heads.retrieval import RetrievalMasks, batched_retrieval_both
from rram_lsm.heads.train import (
    HeadConfig,
    RetrievalSet,
    TrainResult,
    _torch_threads,
    select_epochs,
    train_heads,
    validation_scores,
)
from rram_lsm.heads.workspace import reused
from rram_lsm.workers import return_freed_memory

_ACT = {"gelu": F.gelu, "relu": F.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
        "identity": lambda x: x}
_BETAS, _EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam defaults, as `train_heads` uses


def _onednn_linear():
    """torch's oneDNN fp32 linear (``torch.ops.mkldnn._linear_pointwise``) when this torch build
    has it, else None. On CPUs where MKL's GEMM takes its AVX2 path (AMD) oneDNN's AVX-512
    kernels run the head's matrix products 1.5-2.5x faster, in full fp32."""
    try:
        op = torch.ops.mkldnn._linear_pointwise
        x = torch.ones(2, 3)
        ok = torch.backends.mkldnn.is_available() and torch.equal(
            op(x, torch.ones(4, 3), None, "none", [], ""), torch.full((2, 4), 3.0))
    except (AttributeError, RuntimeError):
        return None
    return op if ok else None


_LINEAR = _onednn_linear()
# member-by-member oneDNN products pay off from this input size and this many rows per member;
# below (e.g. the paper's batch of 8), one batched product per chunk is faster
ONEDNN_MIN_IN, ONEDNN_MIN_ROWS = 512, 32


class _StackedLinear(torch.autograd.Function):
    """x [k, b, in] -> x W^T + b for every member's W [k, out, in], b [k, out], as one batched
    product. Its backward computes the weight gradient as G^T x ([k, out, in], the layout of W,
    as `nn.Linear` does per member) rather than autograd's (x^T G)^T of the transposed weight,
    which reads x transposed and runs at about half the speed on a CPU."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, w)
        return torch.baddbmm(b[:, None, :], x, w.transpose(1, 2))

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        x, w = ctx.saved_tensors
        gx = torch.bmm(g, w) if ctx.needs_input_grad[0] else None
        gw = torch.bmm(g.transpose(1, 2), x) if ctx.needs_input_grad[1] else None
        gb = g.sum(1) if ctx.needs_input_grad[2] else None
        return gx, gw, gb


class _MemberLinear(torch.autograd.Function):
    """`_StackedLinear` member by member through oneDNN (see `_onednn_linear`), for wide inputs
    on a CPU. The weights come as k separate tensors (leaf views of the stacked weight): each
    gets its own gradient, so no [k, out, in] gradient is assembled (a copy as large as the
    weights, per step). Only for a first layer (no gradient for x)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, b: torch.Tensor, *ws: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.stack([_LINEAR(x[m], w, b[m], "none", [], "") for m, w in enumerate(ws)])

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        (x,) = ctx.saved_tensors
        gws = [_LINEAR(g[m].T.contiguous(), x[m].T, None, "none", [], "") if need else None
               for m, need in enumerate(ctx.needs_input_grad[2:])]
        gb = g.sum(1) if ctx.needs_input_grad[1] else None
        return (None, gb, *gws)


def _use_onednn(x: torch.Tensor) -> bool:
    return _LINEAR is not None and x.device.type == "cpu" and x.dtype == torch.float32 \
        and not x.requires_grad and x.shape[-1] >= ONEDNN_MIN_IN \
        and x.shape[-2] >= ONEDNN_MIN_ROWS


@dataclass
class FeatureSet:
    """Feature matrices of both modalities, by split name: audio [n, Da], image [n, Di]. Jobs that
    share one FeatureSet object share its rows (no copies)."""

    audio: dict[str, np.ndarray]
    image: dict[str, np.ndarray]


@dataclass
class Rows:
    """Paired rows of one split: pair k is audio row ``audio[k]`` and image row ``image[k]`` of
    ``split``, both of class ``labels[k]``."""

    split: str
    audio: np.ndarray
    image: np.ndarray
    labels: np.ndarray

    def retrieval_set(self, features: FeatureSet) -> RetrievalSet:
        return RetrievalSet(features.audio[self.split][self.audio], self.labels,
                            features.image[self.split][self.image], self.labels)


@dataclass
class HeadJob:
    """One head training: what `train_heads` gets, as rows of shared features."""

    features: FeatureSet
    train: Rows
    val: Rows
    evals: dict[str, Rows]
    seed: int
    tag: object = None  # anything the caller wants back (e.g. the held-out pair)


def train_job_sequential(job: HeadJob, config: HeadConfig, patience: int | None = None,
                         paper_sets: tuple[str, ...] = ("seen", "unseen")) -> TrainResult:
    """The stand-alone reference: `train_heads` on the job's rows."""
    f, t = job.features, job.train
    return train_heads(f.audio[t.split][t.audio], f.image[t.split][t.image], t.labels,
                       job.val.retrieval_set(f), {k: r.retrieval_set(f) for k, r in job.evals.items()},
                       config, seed=job.seed, paper_sets=paper_sets, patience=patience)


CHUNK_BYTES = 256 << 20  # CPU memory of one chunk (inputs of an epoch and of the evaluation sets)


def default_chunk(in_dims: tuple[int, int], config: HeadConfig, device: str,
                  rows: int = 2000) -> int:
    """Members per chunk. On CPU: as many as fit ``CHUNK_BYTES`` with ``rows`` input rows per
    member (an epoch's training pairs + the evaluation sets' distinct rows) plus parameters and
    Adam state, 4 to 64 (measured on the demo: a chunk of 20-50 members trains ~25 % faster per
    member than one of 9, one of 2-4 ~25 % slower). On CUDA 1024."""
    if torch.device(device).type != "cpu":
        return 1024
    p = config.proj_dim
    params = sum(d * p + (config.n_layers - 1) * p * p for d in in_dims)
    per_member = 4 * (4 * params + rows * sum(in_dims))
    return max(4, min(64, CHUNK_BYTES // max(per_member, 1)))


def _chunk_size(jobs: Sequence[HeadJob], ids: list[int], in_dims: tuple[int, int],
                config: HeadConfig, device: str, chunk: int | None, workers: int) -> int:
    """``chunk`` if given, else `default_chunk` for these members, split so that every CPU
    worker gets a share."""
    if chunk:
        return chunk
    rows = max(len(jobs[n].train.labels) + len(np.unique(jobs[n].val.audio))
               + sum(len(np.unique(r.audio)) for r in jobs[n].evals.values()) for n in ids)
    size = default_chunk(in_dims, config, device, rows)
    if workers > 1 and torch.device(device).type == "cpu":
        size = min(size, -(-len(ids) // workers))
    return size


class _Bank:
    """Every distinct feature matrix of one modality and split, concatenated on the device, so
    that rows of any member are one `index_select` away."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._offset: dict[int, int] = {}
        self._parts: list[np.ndarray] = []
        self._n = 0
        self.tensor: torch.Tensor | None = None

    def offset(self, x: np.ndarray) -> int:
        key = id(x)
        if key not in self._offset:
            self._offset[key] = self._n
            self._parts.append(x)
            self._n += len(x)
        return self._offset[key]

    def build(self) -> None:
        self.tensor = torch.as_tensor(np.concatenate(
            [np.asarray(p, np.float32).reshape(len(p), -1) for p in self._parts]), device=self.device)


@dataclass
class _EvalSet:
    """One retrieval set of every member of a chunk, on distinct rows (padded to the chunk max).
    The inputs and the same-class mask never change during training, so they are gathered once."""

    a_rows: torch.Tensor  # [k, Ra] bank rows
    a_lab: torch.Tensor  # [k, Ra] class ids (-1: padding)
    a_w: torch.Tensor  # [k, Ra] multiplicity in the set (0: padding)
    i_rows: torch.Tensor
    i_lab: torch.Tensor
    i_w: torch.Tensor
    x_a: torch.Tensor | None = None  # [k, Ra, Da] inputs (standardised if configured)
    x_i: torch.Tensor | None = None  # [k, Ri, Di]
    masks: RetrievalMasks | None = None

    def select(self, keep: torch.Tensor) -> _EvalSet:
        return _EvalSet(self.a_rows[keep], self.a_lab[keep], self.a_w[keep], self.i_rows[keep],
                        self.i_lab[keep], self.i_w[keep], self.x_a[keep], self.x_i[keep],
                        self.masks.select(keep))


def _distinct(rows: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    u, first, counts = np.unique(rows, return_index=True, return_counts=True)
    return u, labels[first], counts


def _pad(arrays: list[np.ndarray], fill, dtype, device) -> torch.Tensor:
    n = max((len(a) for a in arrays), default=0)
    out = np.full((len(arrays), max(n, 1)), fill, dtype=dtype)
    for k, a in enumerate(arrays):
        out[k, :len(a)] = a
    return torch.as_tensor(out, device=device)


@dataclass
class _Member:
    job_index: int
    seed: int
    gen: torch.Generator
    n_train: int
    history: list[dict] = field(default_factory=list)
    best_score: float = -math.inf
    best_state: list[torch.Tensor] | None = None
    norm: dict = field(default_factory=dict)


class _Chunk:
    """k members trained in lockstep (one epoch at a time for all)."""

    def __init__(self, jobs: Sequence[HeadJob], job_ids: list[int], config: HeadConfig,
                 banks: dict, class_ids: dict, device: torch.device) -> None:
        self.config, self.device = config, device
        self.banks = banks
        c = config
        self.members: list[_Member] = []
        params: list[list[torch.Tensor]] = []
        for j in job_ids:
            job = jobs[j]
            g = torch.Generator().manual_seed(int(job.seed))
            torch.manual_seed(int(job.seed))  # the model's initialisation, as in train_heads
            f = job.features
            da = f.audio[job.train.split].reshape(len(f.audio[job.train.split]), -1).shape[1]
            di = f.image[job.train.split].reshape(len(f.image[job.train.split]), -1).shape[1]
            m = _Member(j, int(job.seed), g, len(job.train.labels))
            if c.standardize:
                for name, feats, idx in (("audio", f.audio, job.train.audio),
                                         ("image", f.image, job.train.image)):
                    x = feats[job.train.split][idx]
                    m.norm[name] = (x.mean(0), x.std(0) + 1e-6)
            model = DualProjection(da, di, c.proj_dim, c.n_layers, c.activation, c.temperature,
                                   c.learn_temperature)
            params.append(self._flat(model))
            self.members.append(m)
        # stacked parameters: per modality and layer W [k, out, in], b [k, out]; then log_t [k]
        self.params = [torch.stack([p[n] for p in params]).to(device).requires_grad_()
                       for n in range(len(params[0]))]
        if not c.learn_temperature:  # a fixed temperature is a buffer, not trained
            self.params[-1].requires_grad_(False)
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        # Adam's step count per parameter tensor and member (the fused update increments each)
        self.steps = torch.zeros((len(self.params), len(job_ids)), dtype=torch.float32,
                                 device=device)  # fused Adam wants them with the parameters

        self.dims = {"audio": da, "image": di}

        def rows(mod, r: Rows, j):
            x = getattr(jobs[j].features, mod)[r.split]
            return self.banks[_bank_key(mod, r.split, x)].offset(x)

        # training pairs: bank rows and class ids, padded to the longest member
        tr = [jobs[j].train for j in job_ids]
        self.t_a = _pad([t.audio + rows("audio", t, j) for t, j in zip(tr, job_ids)], 0, np.int64,
                        device)
        self.t_i = _pad([t.image + rows("image", t, j) for t, j in zip(tr, job_ids)], 0, np.int64,
                        device)
        self.t_y = _pad([class_ids_of(class_ids, t.labels) for t in tr], 0, np.int64, device)
        self.n = torch.as_tensor([m.n_train for m in self.members], device=device)
        self.sets: dict[str, _EvalSet] = {}
        names = ["val"] + list(jobs[job_ids[0]].evals)
        for name in names:
            parts = {"a_rows": [], "a_lab": [], "a_w": [], "i_rows": [], "i_lab": [], "i_w": []}
            for j in job_ids:
                r = jobs[j].val if name == "val" else jobs[j].evals[name]
                for mod, key in (("audio", "a"), ("image", "i")):
                    u, lab, cnt = _distinct(getattr(r, mod), r.labels)
                    parts[f"{key}_rows"].append(u + rows(mod, r, j))
                    parts[f"{key}_lab"].append(class_ids_of(class_ids, lab))
                    parts[f"{key}_w"].append(cnt)
            self.sets[name] = _EvalSet(**{
                key: _pad(v, -1 if key.endswith("_lab") else 0, np.int64, device)
                for key, v in parts.items()})
        self.mu_sd = None
        if c.standardize:
            self.mu_sd = {mod: tuple(torch.as_tensor(np.stack([m.norm[mod][q] for m in self.members]),
                                                     dtype=torch.float32, device=device)
                                     for q in (0, 1)) for mod in ("audio", "image")}
        for name, es in self.sets.items():
            r = jobs[job_ids[0]].val if name == "val" else jobs[job_ids[0]].evals[name]
            es.x_a = self._inputs("audio", r.split, es.a_rows)
            es.x_i = self._inputs("image", r.split, es.i_rows)
            es.masks = RetrievalMasks.of(es.a_lab, es.i_lab, es.a_w, es.i_w)
        self.loss_sum = np.zeros(len(job_ids))
        self.loss_count = np.zeros(len(job_ids), dtype=np.int64)
        self._buffers: dict[str, torch.Tensor] = {}
        self._member_weights: dict[int, list[torch.Tensor]] = {}  # param index -> leaf views
        self._eval_work: dict[str, dict] = {}  # per set: reused [k, Q, G] temporaries

    @staticmethod
    def _flat(model: DualProjection) -> list[torch.Tensor]:
        out = []
        for head in (model.audio, model.image):
            for layer in head.net:
                if isinstance(layer, torch.nn.Linear):
                    out += [layer.weight.detach(), layer.bias.detach()]
        out.append(model.log_temperature.detach().reshape(()))
        return out

    # --- model ---------------------------------------------------------------------------------
    def _head(self, x: torch.Tensor, modality: int) -> torch.Tensor:
        """x [k, b, d] -> [k, b, proj_dim] through every member's own head."""
        act = _ACT[self.config.activation]
        per = 2 * self.config.n_layers
        first = modality * per
        for n in range(first, first + per, 2):
            w, b = self.params[n], self.params[n + 1]
            if n == first and _use_onednn(x):
                if torch.is_grad_enabled():
                    # per-member leaf views: their gradients go to Adam as they are
                    views = self._member_weights[n] = [w.detach()[m].requires_grad_()
                                                       for m in range(len(x))]
                else:
                    views = [w.detach()[m] for m in range(len(x))]
                x = act(_MemberLinear.apply(x, b, *views))
            else:
                x = act(_StackedLinear.apply(x, w, b))
        return x

    def _inputs(self, modality: str, split: str, rows: torch.Tensor) -> torch.Tensor:
        bank = self.banks[(modality, split, self.dims[modality])].tensor
        x = bank.index_select(0, rows.reshape(-1)).view(*rows.shape, bank.shape[1])
        if self.mu_sd is not None:
            mu, sd = self.mu_sd[modality]
            x = (x - mu[:, None, :]) / sd[:, None, :]
        return x

    def _epoch_inputs(self, modality: str, split: str, rows: torch.Tensor) -> torch.Tensor:
        """Training inputs of one epoch, step-major: rows [k, n] (batch order) -> [steps, k, B, d]
        (the last step zero-padded), so that step s is the contiguous block [s]. The buffer is
        reused across epochs (a fresh tens-of-MB tensor per epoch costs its page faults)."""
        c = self.config
        k, n = rows.shape
        steps = -(-n // c.batch_size)
        idx = torch.zeros((k, steps * c.batch_size), dtype=rows.dtype, device=rows.device)
        idx[:, :n] = rows
        idx = idx.view(k, steps, c.batch_size).transpose(0, 1).reshape(-1)
        bank = self.banks[(modality, split, self.dims[modality])].tensor
        buf = reused(self._buffers, modality, (idx.numel(), bank.shape[1]), bank)
        torch.index_select(bank, 0, idx, out=buf)
        x = buf.view(steps, k, c.batch_size, bank.shape[1])
        if self.mu_sd is not None:
            mu, sd = self.mu_sd[modality]
            x = (x - mu[None, :, None, :]) / sd[None, :, None, :]
        return x

    @property
    def temperature(self) -> torch.Tensor:
        return self.params[-1].exp()

    # --- one epoch -----------------------------------------------------------------------------
    def train_epoch(self, train_split: str) -> None:
        c = self.config
        k, n_max = self.t_a.shape
        perm = torch.zeros((k, n_max), dtype=torch.int64)
        for m, mem in enumerate(self.members):
            perm[m, :mem.n_train] = torch.randperm(mem.n_train, generator=mem.gen)
        perm = perm.to(self.device)
        pa, pi, py = (t.gather(1, perm) for t in (self.t_a, self.t_i, self.t_y))
        # the epoch's inputs in batch order, gathered once: each step reads a contiguous slice
        xa = self._epoch_inputs("audio", train_split, pa)
        xi = self._epoch_inputs("image", train_split, pi)
        n_np = np.array([mem.n_train for mem in self.members])
        self.loss_sum[:] = 0.0
        self.loss_count[:] = 0
        for start in range(0, n_max, c.batch_size):
            stop = min(start + c.batch_size, n_max)
            counts = np.clip(n_np - start, 0, stop - start)
            active_np = counts >= 2  # train_heads skips batches of fewer than 2 pairs
            if not active_np.any():
                continue
            step = start // c.batch_size
            a = self._head(xa[step, :, :stop - start], 0)
            i = self._head(xi[step, :, :stop - start], 1)
            if (counts == stop - start).all():  # no padding in this step
                loss = full_batch_loss(c.loss, a, i, py[:, start:stop], self.temperature,
                                       c.metric)
                total = loss.sum()
            else:
                pos = torch.arange(start, stop, device=self.device)
                valid = pos[None, :] < self.n[:, None]
                loss = batched_contrastive_loss(c.loss, a, i, py[:, start:stop], valid,
                                                self.temperature, c.metric)
                active = torch.as_tensor(active_np, device=self.device)
                total = torch.where(active, loss, torch.zeros_like(loss)).sum()
            for p in self.params:
                p.grad = None
            total.backward()
            self._adam(active_np)
            values = loss.detach().double().cpu().numpy()
            self.loss_sum += np.where(active_np, values * counts, 0.0)
            self.loss_count += np.where(active_np, counts, 0)

    def _adam(self, active: np.ndarray) -> None:
        """torch.optim.Adam (defaults, no weight decay, ``fused=True`` as `train_heads`) per
        member: the stacked tensors are cut into per-member views, each with its own step count
        (so its own bias corrections); inactive members are left out (unchanged)."""
        lr, (b1, b2) = self.config.lr, _BETAS
        members = np.flatnonzero(active).tolist()
        ps, gs, ms, vs, steps = [], [], [], [], []
        for n, (p, m, v) in enumerate(zip(self.params, self.exp_avg, self.exp_avg_sq)):
            views = self._member_weights.pop(n, None)
            if views is not None:  # trained member by member (`_MemberLinear`)
                pv, gv = [t.detach() for t in views], [t.grad for t in views]
            elif p.grad is not None:
                pv, gv = p.detach(), p.grad
            else:
                continue
            for k in members:
                ps.append(pv[k])
                gs.append(gv[k])
                ms.append(m[k])
                vs.append(v[k])
                steps.append(self.steps[n, k])
        adam(ps, gs, ms, vs, [], steps, fused=True, amsgrad=False, beta1=b1, beta2=b2, lr=lr,
             weight_decay=0.0, eps=_EPS, maximize=False)

    # --- evaluation ----------------------------------------------------------------------------
    def evaluate(self) -> dict[str, np.ndarray]:
        """Retrieval metrics of every member on every set: "<set>_<a2i|i2a>_top<k>" -> [k]."""
        out: dict[str, np.ndarray] = {}
        with torch.no_grad():
            for name, s in self.sets.items():
                a = self._head(s.x_a, 0)
                i = self._head(s.x_i, 1)
                work = self._eval_work.setdefault(name, {})
                sim = batched_similarity(a, i, self.config.metric,
                                         out=reused(work, "sim", (*a.shape[:2], i.shape[1]), a))
                a2i, i2a = (t.cpu().numpy() for t in batched_retrieval_both(sim, s.masks,
                                                                            work=work))
                prefix = "val" if name == "val" else name
                out.update({f"{prefix}_a2i_top1": a2i[0], f"{prefix}_i2a_top1": i2a[0],
                            f"{prefix}_a2i_top5": a2i[1], f"{prefix}_i2a_top5": i2a[1]})
        return out

    def member_state(self, m: int) -> list[torch.Tensor]:
        return [p[m].detach().to("cpu", copy=True) for p in self.params]

    def keep(self, keep_np: np.ndarray) -> None:
        """Drop the members not in ``keep_np`` (bool [k])."""
        keep = torch.as_tensor(np.flatnonzero(keep_np), device=self.device)
        self.params = [p.detach()[keep].requires_grad_(p.requires_grad) for p in self.params]
        self.exp_avg = [m[keep] for m in self.exp_avg]
        self.exp_avg_sq = [v[keep] for v in self.exp_avg_sq]
        self.steps = self.steps[:, keep]
        self.t_a, self.t_i, self.t_y, self.n = (t[keep] for t in (self.t_a, self.t_i, self.t_y,
                                                                  self.n))
        self.sets = {k: s.select(keep) for k, s in self.sets.items()}
        if self.mu_sd is not None:
            self.mu_sd = {mod: (mu[keep], sd[keep]) for mod, (mu, sd) in self.mu_sd.items()}
        self.members = [m for m, kp in zip(self.members, keep_np) if kp]
        self.loss_sum, self.loss_count = self.loss_sum[keep_np], self.loss_count[keep_np]


def class_ids_of(class_ids: dict, labels: np.ndarray) -> np.ndarray:
    return np.array([class_ids[v] for v in np.asarray(labels).tolist()], dtype=np.int64)


def _result(mem: _Member, config: HeadConfig, in_dims: tuple[int, int],
            paper_sets: tuple[str, ...]) -> TrainResult:
    """The member's `TrainResult`, as `train_heads` builds it."""
    history = mem.history
    best, metrics = select_epochs(history, paper_sets)
    c = config
    model = DualProjection(in_dims[0], in_dims[1], c.proj_dim, c.n_layers, c.activation,
                           c.temperature, c.learn_temperature)
    with torch.no_grad():
        targets = _Chunk._flat(model)
        for t, v in zip(targets[:-1], mem.best_state[:-1]):
            t.copy_(v)
        model.log_temperature.copy_(mem.best_state[-1])
    model.eval()
    return TrainResult(history=history, best_epoch=best, metrics=metrics, model=model,
                       norm=mem.norm)


def _banks(jobs: Sequence[HeadJob], dev: torch.device) -> dict:
    banks: dict = {}
    for j in jobs:
        for r in (j.train, j.val, *j.evals.values()):
            for mod in ("audio", "image"):
                x = getattr(j.features, mod)[r.split]
                banks.setdefault(_bank_key(mod, r.split, x), _Bank(dev)).offset(x)
    for b in banks.values():
        b.build()
    return banks


def _bank_key(modality: str, split: str, x: np.ndarray) -> tuple[str, str, int]:
    """Banks per modality, split and feature size (features of different sizes never mix)."""
    return modality, split, int(np.prod(x.shape[1:]))


def _dims(j: HeadJob) -> tuple[int, int]:
    s = j.train.split
    return (int(np.prod(j.features.audio[s].shape[1:])), int(np.prod(j.features.image[s].shape[1:])))


def train_heads_batched(jobs: Sequence[HeadJob], config: HeadConfig, patience: int | None = None,
                        paper_sets: tuple[str, ...] = ("seen", "unseen"), device: str = "cpu",
                        threads: int | None = None, chunk: int | None = None, workers: int = 1,
                        on_done: Callable[[int], None] | None = None) -> list[TrainResult]:
    """Train every job's heads (see `train_heads`; same results per job, in job order).

    ``device``: torch device of the training ("cpu", "cuda"); ``threads``: torch CPU threads per
    process (default ``config.threads``); ``chunk``: members per vectorised model (default
    `default_chunk`); ``workers``: CPU processes sharing the chunks (on a busy machine processes
    scale better than threads); ``on_done(j)`` is called when job j has finished.
    """
    if not jobs:
        return []
    names = list(jobs[0].evals)
    if any(list(j.evals) != names for j in jobs):
        raise ValueError("every job needs the same evaluation sets (names, in order)")
    groups: dict[tuple[int, int], list[int]] = {}
    for n, j in enumerate(jobs):
        groups.setdefault(_dims(j), []).append(n)
    chunks: list[list[int]] = []
    for in_dims, ids in groups.items():
        size = _chunk_size(jobs, ids, in_dims, config, device, chunk, workers)
        ids = sorted(ids, key=lambda n: len(jobs[n].train.labels))  # similar sizes together
        chunks += [ids[s:s + size] for s in range(0, len(ids), size)]
    # the costliest chunks first, so that parallel workers end together
    chunks.sort(key=lambda ids: -len(ids) * sum(_dims(jobs[ids[0]])))
    results: list[TrainResult | None] = [None] * len(jobs)
    if workers > 1 and len(chunks) > 1 and torch.device(device).type == "cpu":
        from joblib import Parallel, delayed

        tasks = (delayed(_train_chunks)([jobs[n] for n in ids], config, patience, paper_sets,
                                        device, threads or 1) for ids in chunks)
        for ids, res in zip(chunks, Parallel(n_jobs=workers, backend="loky", return_as="generator")(
                tasks)):
            for n, r in zip(ids, res):
                results[n] = r
                if on_done is not None:
                    on_done(n)
        return results  # type: ignore[return-value]
    dev = torch.device(device)
    banks = _banks(jobs, dev)
    class_ids = _class_ids(jobs)
    with _torch_threads(threads or config.threads):
        for ids in chunks:
            _run_chunk(jobs, ids, config, banks, class_ids, dev, patience,
                       paper_sets, _dims(jobs[ids[0]]), results, on_done)
    return results  # type: ignore[return-value]


def _class_ids(jobs: Sequence[HeadJob]) -> dict:
    labels = sorted({v for j in jobs for r in (j.train, j.val, *j.evals.values())
                     for v in np.asarray(r.labels).tolist()})
    return {v: n for n, v in enumerate(labels)}


def _train_chunks(jobs: list[HeadJob], config: HeadConfig, patience, paper_sets, device: str,
                  threads: int) -> list[TrainResult]:
    """One chunk in a worker process (picklable entry point)."""
    try:
        return train_heads_batched(jobs, config, patience, paper_sets, device, threads,
                                   chunk=len(jobs), workers=1)
    finally:
        return_freed_memory()


def _run_chunk(jobs, ids, config, banks, class_ids, dev, patience, paper_sets, in_dims,
               results, on_done) -> None:
    ch = _Chunk(jobs, ids, config, banks, class_ids, dev)
    train_split = jobs[ids[0]].train.split
    if any(jobs[n].train.split != train_split for n in ids):
        raise ValueError("every job of a chunk must train on the same split name")

    def record(epoch: int, trained: bool) -> None:
        metrics = ch.evaluate()
        keep = np.ones(len(ch.members), dtype=bool)
        for m, mem in enumerate(ch.members):
            loss = (float(ch.loss_sum[m] / max(ch.loss_count[m], 1)) if trained else None)
            row = {"epoch": epoch, "loss": loss}
            row.update({key: float(v[m]) for key, v in metrics.items()})
            mem.history.append(row)
            score = 0.5 * (row["val_a2i_top1"] + row["val_i2a_top1"])
            if score > mem.best_score:
                mem.best_score, mem.best_state = score, ch.member_state(m)
            done = epoch >= config.epochs
            if patience is not None and trained:
                done = done or epoch - int(np.argmax(validation_scores(mem.history))) >= patience
            if done:
                keep[m] = False
                results[mem.job_index] = _result(mem, config, in_dims, paper_sets)
                if on_done is not None:
                    on_done(mem.job_index)
        if not keep.all() and keep.any():
            ch.keep(keep)
        elif not keep.any():
            ch.members = []

    record(0, False)
    for epoch in range(1, config.epochs + 1):
        if not ch.members:
            break
        ch.train_epoch(train_split)
        record(epoch, True)


def estimate_seconds(jobs: Sequence[HeadJob], config: HeadConfig, patience: int | None = None,
                     device: str = "cpu", threads: int | None = None,
                     chunk: int | None = None, workers: int = 1) -> dict[str, float]:
    """Expected wall time of `train_heads_batched` on ``jobs``, from one measured epoch (training
    + evaluation; the second of a throw-away training) of one chunk per feature size.

    Returns ``member_epoch_s`` (mean seconds per member and epoch, one process), ``max_s``
    (wall time when every member runs all ``config.epochs``, ``workers`` processes) and
    ``expected_s`` (with ``patience``, members of the demo stop after about 55 % of the epochs
    on average; = max_s without patience).
    """
    import time

    out = {"member_epoch_s": 0.0, "max_s": 0.0, "expected_s": 0.0}
    if not jobs:
        return out
    class_ids = _class_ids(jobs)
    groups: dict[tuple[int, int], list[int]] = {}
    for n, j in enumerate(jobs):
        groups.setdefault(_dims(j), []).append(n)
    dev = torch.device(device)
    state = torch.random.get_rng_state()
    try:
        with _torch_threads(threads or config.threads):
            for in_dims, ids in groups.items():
                sample = ids[:_chunk_size(jobs, ids, in_dims, config, device, chunk, workers)]
                banks = _banks([jobs[n] for n in sample], dev)
                ch = _Chunk(jobs, sample, config, banks, class_ids, dev)
                for _ in range(2):  # the second epoch: the first pays one-off set-up costs
                    t0 = time.perf_counter()
                    ch.train_epoch(jobs[sample[0]].train.split)
                    ch.evaluate()
                dt = (time.perf_counter() - t0) / len(sample)
                out["max_s"] += dt * len(ids) * config.epochs
    finally:
        torch.random.set_rng_state(state)
    out["member_epoch_s"] = out["max_s"] / (len(jobs) * config.epochs)
    if dev.type == "cpu":
        out["max_s"] /= max(1, min(workers, len(jobs)))
    out["expected_s"] = out["max_s"] * (1.0 if patience is None else 0.55)
    return out
