"""Offline image metrics from a small classifier of the real data (labelled datasets).

A small CNN is trained once on the real training split and cached under
`eval.cache_dir/classifiers/`. Its penultimate features and class predictions give:
- fd_<name>: the Frechet distance between Gaussians fitted to generated and real features
  (FID's formula in this classifier's feature space),
- is_<name>: the Inception Score with this classifier, exp(E_x KL(p(y|x) || p(y))), 10 splits,
- classes_covered: how many classes the generated samples are predicted as,
- class_kl: KL(generated class histogram || real class histogram), the Stacked-MNIST
  style protocol of VEEGAN and PacGAN,
- confident / confident_real: the share of samples / of real held-out images that the classifier
  gives one class a probability of at least 0.9 (a classifier is confident on much noise too:
  read it beside the others),
- precision, recall, density, coverage (ganrun/metrics/manifold.py) in the feature space.
Samples drawn for given classes (conditional games) also get
- cond_acc: the share of G(z, y) that the classifier assigns to y (the "classification accuracy
  score" idea),
- intra_fd: the mean over classes of the Frechet distance between the class's generated and
  real images, in the same feature space;
and samples drawn with an InfoGAN categorical code get
- code_acc: the accuracy of the best one-to-one matching between code values and the classes the
  classifier predicts (Hungarian matching, as InfoGAN's 5% error on MNIST is measured).
"""

from __future__ import annotations

import hashlib
import logging
import math
from pathlib import Path
from typing import NamedTuple, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_fidelity.metric_fid import fid_statistics_to_metric
from torch_fidelity.metric_isc import isc_features_to_metric

from ganrun.checkpoint import atomic_save, load_tensors, one_at_a_time
from ganrun.data import Batch
from ganrun.metrics.seal import seal, sealed

log = logging.getLogger(__name__)
VERSION = 1          # bump when the architecture or training recipe changes (invalidates caches)


class DigitClassifier(nn.Module):
    """Two conv blocks and a 128-unit feature layer; inputs in [-1, 1]."""

    def __init__(self, channels: int, resolution: int, n_classes: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * (resolution // 4) ** 2, 128), nn.ReLU())
        self.head = nn.Linear(128, n_classes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        features = self.body(x)
        return features, self.head(features)


def cache_path(cache_dir: Path, name: str, shape: tuple[int, ...], n_classes: int, digest: str) -> Path:
    """The classifier's file: named by the data's name and shape, and by a digest of its images and
    labels (two folders of the same name and size never share a classifier)."""
    c, r = shape[0], shape[-1]
    return Path(cache_dir).expanduser() / "classifiers" / f"{name}-train-{c}x{r}x{r}-{n_classes}cls-{digest}-v{VERSION}.pt"


def same_data(path: Path) -> Path:
    """`path`, or the cached classifier of another dataset name with the very same images and labels
    (e.g. a translation domain that is the digits themselves): one classifier per data, not per name."""
    if path.is_file() or not path.parent.is_dir():
        return path
    tail = path.name.rsplit("-train-", 1)[1]
    return next(iter(sorted(path.parent.glob(f"*-train-{tail}"))), path)


def data_digest(*batches: Optional[Batch]) -> str:
    """A short digest of the images and labels of these batches (None: skipped)."""
    h = hashlib.blake2b(digest_size=6)
    for batch in batches:
        for t in (batch.x, batch.y) if batch is not None else ():
            if t is not None:
                h.update(str((tuple(t.shape), t.dtype)).encode())
                h.update(raw_bytes(t))
    return h.hexdigest()


def state_digest(model: nn.Module) -> str:
    h = hashlib.blake2b(digest_size=6)
    for t in model.state_dict().values():
        h.update(raw_bytes(t))
    return h.hexdigest()


def raw_bytes(t: Tensor) -> np.ndarray:
    """A tensor's bytes, whatever its dtype (numpy has no bfloat16); no copy for a contiguous CPU tensor."""
    return t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy()


def _shifted(x: Tensor, gen: torch.Generator) -> Tensor:
    """Random translations of up to 2 pixels (one offset per batch): cheap augmentation."""
    dy, dx = torch.randint(-2, 3, (2,), generator=gen).tolist()
    return torch.roll(x, shifts=(dy, dx), dims=(2, 3))


@torch.no_grad()
def predict(model: nn.Module, images: Tensor, batch_size: int = 500) -> tuple[Tensor, Tensor]:
    """(features, logits) for images in [-1, 1]."""
    model.eval()
    feats, logits = [], []
    for chunk in images.split(batch_size):
        f, l = model(chunk.float())
        feats.append(f)
        logits.append(l)
    return torch.cat(feats), torch.cat(logits)


def train_classifier(images: Tensor, labels: Tensor, n_classes: int, seed: int = 0) -> nn.Module:
    """Fit the classifier on real images in [-1, 1]; deterministic for a seed."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = DigitClassifier(images.shape[1], images.shape[-1], n_classes).to(images.device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = len(images)
    epochs = int(min(30, max(2, math.ceil(30_000 / n))))
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(n, generator=gen).split(128):
            idx = idx.to(images.device)
            _, logits = model(_shifted(images[idx].float(), gen))
            loss = F.cross_entropy(logits, labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval()


def read_cache(path: Path, device, what: str, instead: str):
    """A cache file's content, or None when missing or unreadable: read as a checkpoint is (tensors
    only, no compressed entries, no tensor that shows more than its memory holds), since a cache
    folder may hold a stranger's files; their seal is checked next, by the caller."""
    if not path.is_file():
        return None
    try:
        return load_tensors(path, device, what)
    except Exception as e:
        unreadable(path, e, what, instead)
        return None


def unreadable(path: Path, e: Exception, what: str, instead: str) -> None:
    why = (str(e).splitlines()[0] if str(e) else type(e).__name__).removeprefix(f"cannot read {what} {path}: ")
    log.warning("ignoring the unreadable %s %s (%s); %s", what, path, why, instead)


class Classifier(NamedTuple):
    model: nn.Module
    accuracy: float                       # on the held-out split (nan without one)
    path: Path                            # its cache file
    real: Batch                           # the real training images it was trained on
    held: Optional[Batch]                 # the held-out images, if labelled
    held_logits: Optional[Tensor]         # its logits of those (CPU), measured when it was loaded or trained


def held_out_accuracy(accuracy: float) -> str:
    """How well the classifier does on held-out images, in words (a folder has no held-out split)."""
    return "no held-out split to measure it on" if math.isnan(accuracy) else f"{100 * accuracy:.1f}% held-out accuracy"


def accuracy(logits: Tensor, labels: Tensor) -> float:
    return float((logits.argmax(1) == labels.to(logits.device)).float().mean())


# How far a cached classifier's accuracy, measured again on loading, may fall below the value it was
# saved with (GPU arithmetic moves a few borderline images) before it is retrained.
ACCURACY_SLACK = 0.01
CHECKED_TRAINING_IMAGES = 1000    # without a held-out split, the check uses this many training images


def load_or_train(data, heldout, cache_dir: Path, device: torch.device) -> Classifier:
    """The dataset's classifier, from the cache or trained now. A cached one is trusted only when this
    user's ganrun sealed it (ganrun/metrics/seal.py), and is measured again on loading (held-out
    images, else some training images; a fraction of a second): one that scores below the accuracy it
    was saved with is stale, and is retrained with a warning."""
    n_classes = data.num_classes
    real = data.reference(None)
    held = heldout.reference(None) if heldout is not None and heldout.num_classes else None
    checked = held if held is not None else Batch(real.x[:CHECKED_TRAINING_IMAGES], real.y[:CHECKED_TRAINING_IMAGES])
    saved_as = "heldout_accuracy" if held is not None else "train_accuracy"
    path = cache_path(cache_dir, data.name, data.shape, n_classes, data_digest(real, held))
    # a parallel sweep's jobs all get here at their start: one trains, the others wait and load its
    # file (locked by the data, whatever its name: same_data shares one classifier between names)
    with one_at_a_time(path.with_name(path.name.rsplit("-train-", 1)[1]), "evaluation classifier"):
        path = same_data(path)
        model = DigitClassifier(data.shape[0], data.shape[-1], n_classes).to(device)
        state = read_cache(path, device, "classifier cache", "training a new one")
        trained = False
        if state is not None:
            try:
                model.load_state_dict(state["model"])
                saved = float(state[saved_as])
                if not sealed(state.get("seal"), "classifier", path.name, state_digest(model), repr(saved)):
                    log.warning("the cached classifier %s was not sealed by ganrun for this user (altered, copied from "
                                "elsewhere, or written before caches were sealed; see ganrun/metrics/seal.py): training "
                                "a new one", path)
                    state = None
            except Exception as e:
                unreadable(path, e, "classifier cache", "training a new one")
                state = None
        if state is None:
            log.info("training the %s classifier for evaluation (once; cached in %s)", data.name, path)
            model, trained = train_classifier(real.x, real.y, n_classes), True
        logits = predict(model, checked.x)[1].cpu()
        now = accuracy(logits, checked.y)
        if not trained and now < saved - ACCURACY_SLACK:
            log.warning("the cached classifier %s scores %.1f%% on the %s images now, below the %.1f%% it was saved "
                        "with: it is stale or was altered; training a new one", path, 100 * now,
                        "held-out" if held is not None else "training", 100 * saved)
            model, trained = train_classifier(real.x, real.y, n_classes), True
            logits = predict(model, checked.x)[1].cpu()
            now = accuracy(logits, checked.y)
        held_accuracy = now if held is not None else float("nan")
        if trained:
            log.info("%s classifier: %s", data.name, held_out_accuracy(held_accuracy))
            try:
                atomic_save({"model": model.state_dict(), saved_as: now,
                             "seal": seal("classifier", path.name, state_digest(model), repr(now))}, path)
            except OSError as e:
                log.warning("could not cache the classifier in %s (%s)", path, e)
        return Classifier(model.eval(), held_accuracy, path, real, held, logits if held is not None else None)


def tensors_digest(*tensors: Optional[Tensor]) -> str:
    """A short digest of tensors' values (None: skipped)."""
    h = hashlib.blake2b(digest_size=8)
    for t in tensors:
        if t is not None:
            h.update(str(tuple(t.shape)).encode())
            h.update(raw_bytes(t))
    return h.hexdigest()


def fits(cached, stamp: str, classifier: Classifier) -> bool:
    """A features file written for this classifier and these images, by this user's ganrun: its seal
    covers the classifier's weights and the features it holds (anything else is recomputed)."""
    if not isinstance(cached, dict) or cached.get("classifier") != stamp:
        return False
    features = cached.get("features")
    return (isinstance(features, torch.Tensor) and features.dim() == 2 and len(features) == len(classifier.real)
            and sealed(cached.get("seal"), "features", stamp, tensors_digest(features)))


_REFERENCE: dict[tuple[Path, str], Tensor] = {}     # this process's reference features, by cache file


def reference_features(classifier: Classifier) -> Tensor:
    """The classifier's features of the real training images (CPU): computed once per classifier and
    cached beside its file (and in memory), since every run's evaluations compare against them.
    The file names the classifier's weights and is sealed for this user over them and the features it
    holds (ganrun/metrics/seal.py): anything else is computed again (with a warning where the seal
    does not cover the features)."""
    stamp = state_digest(classifier.model)           # a retrained classifier never meets old features
    key = (classifier.path, stamp)
    if key in _REFERENCE:
        return _REFERENCE[key]
    path = classifier.path.with_name(classifier.path.stem + "-features.pt")
    cached = read_cache(path, "cpu", "feature cache", "computing the features again")
    if fits(cached, stamp, classifier):
        features = cached["features"]
    else:
        if isinstance(cached, dict) and cached.get("classifier") == stamp and "seal" in cached:
            log.warning("ignoring the feature cache %s: its seal does not cover the features it holds (altered, or "
                        "not written by ganrun for this user); computing them again", path)
        features = predict(classifier.model, classifier.real.x)[0].cpu()
        try:
            atomic_save({"classifier": stamp, "features": features,
                         "seal": seal("features", stamp, tensors_digest(features))}, path)
        except OSError as e:
            log.warning("could not cache the real images' features in %s (%s)", path, e)
    _REFERENCE[key] = features
    return features


def gaussian_stats(features: Tensor) -> dict:
    f = features.double().cpu().numpy()
    return {"mu": f.mean(axis=0), "sigma": np.cov(f, rowvar=False)}


def frechet_distance(a: dict, b: dict) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) (GAN_NOTES §6), via torch-fidelity."""
    return float(fid_statistics_to_metric(a, b, verbose=False)["frechet_inception_distance"])


class ClassifierMetrics:
    """fd_<name>, is_<name>, classes_covered and class_kl for one labelled dataset."""

    def __init__(self, data, heldout, cache_dir: Path, device: torch.device):
        self.name, self.class_names = data.name, data.class_names
        classifier = load_or_train(data, heldout, cache_dir, device)
        self.model, self.accuracy, real = classifier.model, classifier.accuracy, classifier.real
        real_features = reference_features(classifier).to(device)
        self.real_stats = gaussian_stats(real_features)
        self.real_features, self.real_labels = real_features, real.y
        self.n_real = len(real)
        self.confident_real = None
        if classifier.held_logits is not None:
            held_logits = classifier.held_logits
            self.confident_real, self.n_held = confident_share(held_logits), len(held_logits)
        counts = torch.bincount(real.y, minlength=data.num_classes).double()
        self.real_hist = (counts / counts.sum()).cpu()

    def __call__(self, batch: Batch) -> tuple[dict, dict]:
        fake = batch.x
        features, logits = predict(self.model, fake)
        fd = frechet_distance(gaussian_stats(features), self.real_stats)
        is_score = isc_features_to_metric(logits.cpu(), splits=10, shuffle=False)["inception_score_mean"]
        k = len(self.real_hist)
        counts = torch.bincount(logits.argmax(1).cpu(), minlength=k).double()
        hist = counts / counts.sum()
        on = hist > 0
        class_kl = float((hist[on] * (hist[on] / self.real_hist[on]).log()).sum())
        n, name = len(fake), self.name
        net = f"a small CNN trained on the {name} training split ({held_out_accuracy(self.accuracy)})"
        values = {f"fd_{name}": fd, f"is_{name}": float(is_score),
                  "classes_covered": int(on.sum()), "class_kl": class_kl, "confident": confident_share(logits)}
        protocol = {
            f"fd_{name}": f"Frechet distance of {n} samples to the {self.n_real} real training images in the "
                          f"128-d feature space of {net}",
            f"is_{name}": f"Inception Score of {n} samples with {net} as the classifier, 10 splits",
            "classes_covered": f"classes (of {k}) predicted for at least one of {n} samples by {net}",
            "class_kl": f"KL(predicted class histogram of {n} samples || real training histogram), nats, "
                        f"classes by {net}",
            "confident": f"share of {n} samples given one class a probability of at least {CONFIDENT} by {net}",
        }
        if self.confident_real is not None:
            values["confident_real"] = self.confident_real
            protocol["confident_real"] = f"the same for the {self.n_held} real held-out images"
        from ganrun.metrics.manifold import prdc_values

        more, more_protocol = prdc_values(self.real_features, features, f"the 128-d feature space of {net}")
        values.update(more)
        protocol.update(more_protocol)
        if batch.y is not None:
            more, more_protocol = self.conditional(features, logits, batch.y, net)
            values.update(more)
            protocol.update(more_protocol)
        if batch.code is not None:
            values["code_acc"] = matched_accuracy(batch.code.cpu(), logits.argmax(1).cpu(), k)
            protocol["code_acc"] = (f"accuracy of the best one-to-one matching (Hungarian) between the InfoGAN "
                                    f"categorical code of {n} samples and the class {net} predicts")
        return values, protocol

    def conditional(self, features: Tensor, logits: Tensor, y: Tensor, net: str) -> tuple[dict, dict]:
        """cond_acc and intra_fd of samples drawn for classes y."""
        n = len(y)
        cond_acc = float((logits.argmax(1) == y).float().mean())
        distances = []
        for c in range(len(self.real_hist)):
            mine, real = features[y == c], self.real_features[self.real_labels == c]
            if len(mine) > 1 and len(real) > 1:
                distances.append(frechet_distance(gaussian_stats(mine), gaussian_stats(real)))
        values = {"cond_acc": cond_acc, "intra_fd": float(np.mean(distances)) if distances else None}
        protocol = {
            "cond_acc": f"share of {n} samples, drawn for classes round robin, that {net} assigns to the "
                        f"class they were drawn for",
            "intra_fd": f"mean over {len(distances)} classes of the Frechet distance between a class's "
                        f"generated samples (about {n // max(1, len(distances))}) and its real training "
                        f"images, in the feature space of {net}",
        }
        return values, protocol


CONFIDENT = 0.9


def confident_share(logits: Tensor) -> float:
    return float((logits.float().softmax(1).max(1).values >= CONFIDENT).float().mean())


def matched_accuracy(codes: Tensor, predicted: Tensor, classes: int) -> float:
    """The share of samples whose code maps to their predicted class under the best one-to-one
    mapping of code values to classes (scipy's linear_sum_assignment on the confusion counts)."""
    from scipy.optimize import linear_sum_assignment

    # code values as 0..u-1 (the matching does not depend on their names) in a codes x classes matrix,
    # which linear_sum_assignment takes as it is, with the optimum of the square one padded with zeros:
    # a stranger's codes file holding 14 000 had asked for a 14 000 x 14 000 matrix
    values, codes = torch.unique(codes.long(), return_inverse=True)
    confusion = torch.zeros(len(values), classes, dtype=torch.long)
    confusion.index_put_((codes, predicted.long()), torch.ones_like(codes, dtype=torch.long), accumulate=True)
    rows, cols = linear_sum_assignment(confusion.numpy(), maximize=True)
    return float(confusion[rows, cols].sum()) / len(codes)


class StackedModes:
    """Modes of stacked digits (VEEGAN's and PacGAN's Stacked-MNIST protocol): each colour channel
    labelled by the classifier of the single digits; a mode is a triple of digits."""

    def __init__(self, data, cache_dir: Path, device: torch.device):
        base = data.base
        self.name, self.base_name = data.name, base.name
        self.model, self.accuracy = load_or_train(base, base.heldout(), cache_dir, device)[:2]

    def __call__(self, batch: Batch) -> tuple[dict, dict]:
        x = batch.x
        n = len(x)
        _, logits = predict(self.model, x.reshape(n * x.shape[1], 1, *x.shape[2:]))
        digit = logits.argmax(1).view(n, x.shape[1]).cpu()
        ids = (digit * torch.tensor([100, 10, 1])).sum(1)
        counts = torch.bincount(ids, minlength=1000).double()
        p = counts[counts > 0] / n
        # KL(triples || uniform) = sum over channels of KL(channel's digits || uniform) + the channels'
        # dependence (total correlation): digit_kl is the first part, what one channel at a time
        # explains (a G whose digits lean to some classes, or that the classifier reads as some)
        digit_kl = 0.0
        for c in range(digit.shape[1]):
            q = torch.bincount(digit[:, c], minlength=10).double() / n
            digit_kl += float((q[q > 0] * (q[q > 0] * 10).log()).sum())
        values = {"modes": int((counts > 0).sum()), "mode_kl": float((p * (p * 1000).log()).sum()),
                  "digit_kl": digit_kl}
        net = (f"a small CNN trained on the {self.base_name} training split "
               f"({held_out_accuracy(self.accuracy)}), one channel at a time")
        protocol = {"modes": f"{self.name}: digit triples (of 1000) found among {n} samples, each channel labelled by {net}",
                    "mode_kl": f"KL(triple histogram of {n} samples || uniform over 1000), nats (PacGAN Table 2)",
                    "digit_kl": f"sum over the 3 channels of KL(the channel's digit histogram of {n} samples || "
                                f"uniform over 10), nats: the part of mode_kl the channels explain one at a time "
                                f"(mode_kl - digit_kl is their dependence)"}
        return values, protocol
