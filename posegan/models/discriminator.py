"""The multi-source discriminator D(I, E(S, z)) (section 3.2, Figure 2).

Sources (any non-empty subset):
- "image": the input image (image-pose correspondence);
- "geo":   the geometric descriptor of Eq. 1, 6 x P x P (articulation constraints);
- "maps":  P heatmaps and P depth maps at heatmap resolution.
Each source is embedded by its own branch to `embed_dim` features; the embeddings are
concatenated and go through three fully connected layers to one logit (section 5).
The paper's variant names: map = (image, maps), geo = (image, geo), full = all three.

The discriminator encodes the pose itself, E(S, z), from heatmaps (B, P, H, W) and depths
(B, P) in heatmap pixels, the same way for real samples (ground-truth Gaussian heatmaps and
depth targets) and fake ones (the generator's last-stack heatmaps and depths):

- joint (x, y): `posegan.heatmaps.soft_argmax`, a local centroid, differentiable in the
  heatmap values, so the adversarial gradient reaches the generator's 2D module through
  the geo branch too (an argmax would cut it);
- descriptor: Eq. 1 on (x, y, depth) / heatmap_size. All three coordinates share the
  heatmap-pixel unit; dividing by the map side is a fixed rescaling (the same for real
  and fake) that brings differences into about [-1, 1] and squares into [0, 1] instead of
  +-64 and 4096, so no learned normalisation is needed;
- maps: each heatmap is rectified and scaled to peak 1 (relu(h) / max relu(h); ground-truth
  maps are unchanged up to the sub-pixel peak) and the depth map is that normalised heatmap
  times the joint's depth / heatmap_size, i.e. "the depth of the joint where its heatmap
  is". Normalising the heatmaps (not only the depth maps) keeps the branch from telling
  real from fake by amplitude and background noise alone, which carries no pose
  information. An all-zero map (joint not annotated) stays zero.
  With `maps_from="joints"` the maps are instead Gaussians (sigma 1 heatmap pixel, like the
  targets) drawn at the soft-argmax joint positions, for real and fake poses alike: the
  branch then sees only where the joints are and how deep, never how sharp or noisy the
  generator's heatmaps look (real ones are clean Gaussians, so a branch that sees the raw
  maps can win on their appearance alone). The positions stay differentiable, so the
  generator still gets the branch's gradient.

Choices the paper leaves open (Figure 2 gives no sizes):
- branches are plain CNNs / MLPs with LeakyReLU(0.2) and no normalisation layer: D is
  applied to real and fake batches separately, and batch norm would let it separate them
  by batch statistics;
- image branch: 3x3 stride-2 convolutions from the image size down to 4 x 4, channels
  width, 2 width, 4 width, 8 width (then 8 width), flattened, one linear layer to embed_dim;
- maps branch: the same encoder on the 2P map channels from heatmap size down to 4 x 4;
- geo branch: an MLP on the flattened 6 P^2 descriptor (6P^2 -> 2 embed_dim -> embed_dim).
  The descriptor's rows and columns are joints in an arbitrary order, not an image, so
  convolving over them would mix arbitrary neighbours;
- head: concat -> hidden_dim -> hidden_dim -> 1 (three fully connected layers).

Options beyond the paper (each off in the paper-size settings, each its own Table 2 row;
docs/adversarial.md says what each is for and what it measured):
- source "kcs": RepNet's kinematic chain space (Wandt and Rosenhahn 2019): the 15 bone
  vectors B of the pose and their Gram matrix B B^T (squared bone lengths on the diagonal,
  the products that give the angles between bones off it), upper triangle, through an MLP
  like the geo branch's;
- source "torso": the 15 bone vectors in the torso's own frame (left = l_hip - r_hip, up = thorax
  - pelvis, forward = left x up; `posegan.geometry.torso_frame_bones`), through an MLP like the
  geo branch's. Like the KCS it does not see the camera's view of the body; unlike the KCS it is
  not blind to mirror images, so it can tell a knee or elbow bent the wrong way, i.e. a limb
  whose depth points the wrong way (round 9);
- source "bones": the 15 bone lengths alone (the KCS diagonal, unsquared), through an MLP like
  the geo branch's. With pose_scale "body" these are the body's proportions: they say nothing
  about the pose, so a critic on them judges anatomy (symmetric limbs, a forearm shorter than an
  upper arm) and cannot prefer the lab's activities to the wild ones, whose pose distribution
  differs; with the 2D joints fixed it can only move how far each bone reaches in depth;
- source "symmetry": the six limb pairs' right-minus-left lengths (`posegan.geometry.limb_asymmetry`)
  of the scaled pose, through an MLP like the geo branch's: the one regularity of round 11's
  hand-coded rule, handed to a critic as the geometric descriptor hands it joint offsets, so that
  the tolerance (people are nearly, not exactly, symmetric) is learned from the real poses
  (round 13);
- pose_scale "crop": the pose is made root-relative and measured in eighths of the map side
  (a fixed unit, about one bone of a person the crop fits). Unlike "body" it keeps how large
  the pose is against its crop: the crop is fitted to the 2D box, so bones that reach far in
  depth make the pose longer than the box explains, which a size-free input cannot show
  (scaling every depth up keeps a body-scaled pose's proportions while its bones turn towards
  the camera). Unlike "heatmap" the inputs are about 1, not 0.01, where a critic kept
  1-Lipschitz by its gradient penalty can score their differences;
- pose_scale "body": the pose is made root-relative and divided by its mean bone length
  before the descriptor, the KCS and the depth maps, so that no source can tell real from
  fake by the size of the person in the crop (instead of the fixed division by the map side);
- pose_scale "projected": root-relative, divided by the mean length of the bones' 2D
  projections (x, y only). Like "body" it hides the person's size in the crop; unlike "body"
  the unit is fixed by the 2D joints alone, so the depths cannot change it: scaling every
  depth up makes the bones longer against their projections, which real poses bound, instead
  of keeping the proportions (round 5);
- heads "per_source": one three-layer head per pose source (geo, maps, kcs), each giving its
  own logit and its own loss, so that no source can drown the others' signal, plus, when the
  image is a source, one image-pose correspondence head on the image embedding joined to the
  pose embeddings; `image_samples: lab` applies that head to lab samples only (real lab
  poses against predictions on lab images), so it cannot learn the domain of the image.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from posegan.geometry import (bone_lengths, geometric_descriptor, kinematic_chain_space, limb_asymmetry,
                              torso_frame_bones)
from posegan.heatmaps import soft_argmax
from posegan.settings import setting
from posegan.skeleton import BONES, ROOT, SYMMETRIC_BONES

MAPS_FROM = ("heatmaps", "joints")
POSE_SCALES = ("heatmap", "body", "crop", "projected")
HEADS = ("joint", "per_source")
IMAGE_SAMPLES = ("all", "lab")

SOURCES: tuple[str, ...] = ("image", "geo", "maps", "kcs", "torso", "bones", "symmetry")
# The sources that see the pose (everything but the image).
POSE_SOURCES: tuple[str, ...] = ("geo", "maps", "kcs", "torso", "bones", "symmetry")
# The pose sources computed from the (scaled) soft-argmax joints and depths.
SKELETON_SOURCES: tuple[str, ...] = ("geo", "kcs", "torso", "bones", "symmetry")
VARIANTS: dict[str, tuple[str, ...]] = {
    "map": ("image", "maps"),
    "geo": ("image", "geo"),
    "full": ("image", "geo", "maps"),
}


def parse_sources(value) -> tuple[str, ...]:
    """`discriminator.sources` -> the sources, in the canonical order (image, geo, maps, kcs, torso,
    bones, symmetry).

    A paper variant name: "map" -> (image, maps), "geo" -> (image, geo), "full" -> all
    three of the paper's sources. Otherwise source names: a list/tuple, or a comma-separated
    string ("geo,maps"); a single source name that is not a variant name, e.g. "maps", is
    that source alone; "[geo]" or "[image, geo]" (a list written as a string) is that list.
    Note that the string "geo" is the variant (image + geo); the geometric descriptor
    alone is ["geo"] (or "geo,"). "kcs" (the kinematic chain space), "torso" (the bones in the
    torso's frame), "bones" (the bone lengths) and "symmetry" (the limb pairs' length
    differences) are additions to the paper's three.
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text in VARIANTS:
            return VARIANTS[text]
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        names = [part.strip().strip("'\"") for part in text.split(",") if part.strip()]
    elif isinstance(value, Iterable) and not isinstance(value, Mapping):
        names = [str(part).strip().lower() for part in value]
    else:
        names = None
    if not names:
        raise ValueError(f"discriminator.sources must be one of {sorted(VARIANTS)} or a non-empty "
                         f"list of sources from {list(SOURCES)}, got {value!r}")
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        raise ValueError(f"discriminator.sources: unknown source(s) {unknown} in {value!r}; expected "
                         f"one of {sorted(VARIANTS)} or a list of sources from {list(SOURCES)}")
    return tuple(s for s in SOURCES if s in names)


def _checked_sources(value: Any) -> tuple[str, ...]:
    """The file's `sources` value parsed once, into the source names in canonical order (the
    variant names the tables show are read from the params files, `posegan.report.ablation`)."""
    return parse_sources(value)


@dataclass(frozen=True)
class DiscriminatorSettings:
    """The discriminator (params section `discriminator`; Figure 2 gives no sizes).

    sources: the source names, in canonical order (the file may give a variant name, map, geo
    or full, or a list of sources: see `parse_sources`). width: first conv channels of the image and maps branches. embed_dim: each source's
    embedding. hidden_dim: the first two of the three fully connected layers. maps_from:
    how the maps source is drawn, "joints" (Gaussians at the soft-argmax joints) or
    "heatmaps" (the normalised heatmaps). pose_scale: "heatmap" (coordinates / map side, the
    paper-size default), "body" (root-relative, / the pose's mean bone length), "crop"
    (root-relative, / an eighth of the map side) or "projected" (root-relative, / the mean
    length of the bones' 2D projections). heads:
    "joint" (the paper: one head on all embeddings) or "per_source". image_samples: "all"
    or "lab" (the image-pose head judges lab samples only; needs heads "per_source").
    objective: "bce" (the paper's Eq. 3, a classifier) or "wasserstein" (a critic, as RepNet
    trains its pose critic). gradient_penalty: the weight of R1 on the real samples ("bce") or
    of WGAN-GP on real-fake interpolates ("wasserstein"); 0 is the paper's plain D.
    """

    sources: tuple[str, ...] = setting(VARIANTS["full"], parse=_checked_sources)
    width: int = setting(16, minimum=1)
    embed_dim: int = setting(128, minimum=1)
    hidden_dim: int = setting(256, minimum=1)
    maps_from: Literal["joints", "heatmaps"] = "joints"
    pose_scale: Literal["heatmap", "body", "crop", "projected"] = "heatmap"
    heads: Literal["joint", "per_source"] = "joint"
    image_samples: Literal["all", "lab"] = "all"
    objective: Literal["bce", "wasserstein"] = "bce"
    gradient_penalty: float = setting(0.0, minimum=0)

    def __post_init__(self):
        if self.image_samples == "lab" and self.heads != "per_source":
            raise ValueError("image_samples: lab needs heads: per_source (with one joint head every sample "
                             "is judged with its image)")


def normalized_maps(heatmaps: Tensor) -> Tensor:
    """(..., H, W) heatmaps -> rectified and scaled to peak 1 (all-zero maps stay zero)."""
    positive = heatmaps.clamp_min(0)
    peak = positive.amax(dim=(-2, -1), keepdim=True)
    return positive / peak.clamp_min(1e-6)


def gaussian_maps(xy: Tensor, size: int, sigma: float = 1.0) -> Tensor:
    """(..., P, 2) positions (x, y) in heatmap pixels -> (..., P, size, size) Gaussians of peak 1,
    differentiable in the positions (pixel centres at integer coordinates, as the targets)."""
    grid = torch.arange(size, device=xy.device, dtype=xy.dtype)
    gx = (grid - xy[..., 0:1]).square()                  # (..., P, W)
    gy = (grid - xy[..., 1:2]).square()                  # (..., P, H)
    return torch.exp(-(gy[..., :, None] + gx[..., None, :]) / (2 * sigma ** 2))


def body_scale(joints: Tensor) -> Tensor:
    """(..., P, 3) -> (..., 1, 1): the pose's mean bone length (clamped away from 0)."""
    return bone_lengths(joints).mean(dim=-1)[..., None, None].clamp_min(1e-3)


def projected_scale(xy: Tensor) -> Tensor:
    """(..., P, 2) image positions -> (..., 1, 1): the mean length of the bones' 2D projections."""
    return body_scale(torch.cat([xy, torch.zeros_like(xy[..., :1])], dim=-1))


def _conv_encoder(in_channels: int, size: int, width: int, embed_dim: int) -> nn.Sequential:
    """3x3 stride-2 convolutions from size x size down to 4 x 4, then a linear embedding."""
    if size < 4 or size & (size - 1):
        raise ValueError(f"discriminator branch input size must be a power of two >= 4, got {size}")
    layers: list[nn.Module] = []
    channels = in_channels
    for i in range(int(math.log2(size // 4))):
        out = width * 2 ** min(i, 3)
        layers += [nn.Conv2d(channels, out, 3, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
        channels = out
    layers += [nn.Flatten(), nn.Linear(channels * 16, embed_dim), nn.LeakyReLU(0.2, inplace=True)]
    return nn.Sequential(*layers)


def _mlp_encoder(in_features: int, embed_dim: int) -> nn.Sequential:
    """Flattened features -> 2 embed_dim -> embed_dim (the geo and KCS branches)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(in_features, 2 * embed_dim), nn.LeakyReLU(0.2, inplace=True),
                         nn.Linear(2 * embed_dim, embed_dim), nn.LeakyReLU(0.2, inplace=True))


def _head(in_features: int, hidden_dim: int) -> nn.Sequential:
    """Three fully connected layers to one logit."""
    return nn.Sequential(nn.Linear(in_features, hidden_dim), nn.LeakyReLU(0.2, inplace=True),
                         nn.Linear(hidden_dim, hidden_dim), nn.LeakyReLU(0.2, inplace=True),
                         nn.Linear(hidden_dim, 1))


class MultiSourceDiscriminator(nn.Module):
    """(images (B, 3, S, S), heatmaps (B, P, H, W), depth (B, P) heatmap px) -> logits (B, K).

    K is the number of heads (`head_names`): 1 with the paper's joint head. The forward pass
    is `score(encode(images, heatmaps, depth))`: `encode` turns the pose into each source's
    input (differentiably), `score` runs the branches and heads; the gradient penalties of
    `posegan.losses` differentiate `score` with respect to the encoded inputs.

    sources: anything `parse_sources` accepts. images are normalised by
    `posegan.models.normalize_images`. For fake samples pass the generator's last-stack
    heatmaps; for real ones the ground-truth Gaussian heatmaps and depth targets.
    width: channels of the first convolution of the image and maps branches.
    embed_dim: size of each branch's embedding. hidden_dim: width of the first two of the
    three fully connected layers. soft_argmax_window: see `posegan.heatmaps.soft_argmax`.
    maps_from, pose_scale, heads: see `DiscriminatorSettings` and the module docstring.
    """

    def __init__(self, sources="full", num_joints: int = 16, image_size: int = 128,
                 heatmap_size: int = 32, width: int = 16, embed_dim: int = 128,
                 hidden_dim: int = 256, soft_argmax_window: int = 3, maps_from: str = "joints",
                 pose_scale: str = "heatmap", heads: str = "joint"):
        super().__init__()
        for name, value, choices in (("maps_from", maps_from, MAPS_FROM), ("pose_scale", pose_scale, POSE_SCALES),
                                     ("heads", heads, HEADS)):
            if value not in choices:
                raise ValueError(f"discriminator.{name} must be one of {', '.join(choices)}, got {value!r}")
        self.maps_from, self.pose_scale, self.heads_kind = maps_from, pose_scale, heads
        self.crop_unit = heatmap_size / 8.0     # pose_scale "crop": about one bone length of a person the crop fits
        self.sources = parse_sources(sources)
        self.num_joints = num_joints
        self.image_size = image_size
        self.heatmap_size = heatmap_size
        self.soft_argmax_window = soft_argmax_window
        self.branches = nn.ModuleDict()
        if "image" in self.sources:
            self.branches["image"] = _conv_encoder(3, image_size, width, embed_dim)
        if "geo" in self.sources:
            self.branches["geo"] = _mlp_encoder(6 * num_joints ** 2, embed_dim)
        if "maps" in self.sources:
            self.branches["maps"] = _conv_encoder(2 * num_joints, heatmap_size, width, embed_dim)
        if "kcs" in self.sources:
            bones = len(BONES)
            self.branches["kcs"] = _mlp_encoder(bones * (bones + 1) // 2, embed_dim)
        if "torso" in self.sources:
            self.branches["torso"] = _mlp_encoder(3 * len(BONES), embed_dim)
        if "bones" in self.sources:
            self.branches["bones"] = _mlp_encoder(len(BONES), embed_dim)
        if "symmetry" in self.sources:
            self.branches["symmetry"] = _mlp_encoder(len(SYMMETRIC_BONES), embed_dim)
        pose_sources = [s for s in self.sources if s in POSE_SOURCES]
        if heads == "joint" or not pose_sources:
            self.head_names: tuple[str, ...] = ("joint",)
            self.heads = nn.ModuleDict({"joint": _head(len(self.sources) * embed_dim, hidden_dim)})
        else:
            # One head per pose source; the image only through a correspondence head that also sees the pose.
            self.head_names = tuple(pose_sources) + (("image",) if "image" in self.sources else ())
            self.heads = nn.ModuleDict({name: _head(embed_dim, hidden_dim) for name in pose_sources})
            if "image" in self.sources:
                self.heads["image"] = _head((1 + len(pose_sources)) * embed_dim, hidden_dim)

    @classmethod
    def build(cls, settings: "DiscriminatorSettings", num_joints: int, image_size: int,
              heatmap_size: int) -> "MultiSourceDiscriminator":
        """The discriminator that `settings` describe, for images and heatmaps of these sizes."""
        return cls(num_joints=num_joints, image_size=image_size, heatmap_size=heatmap_size,
                   sources=settings.sources, width=settings.width, embed_dim=settings.embed_dim,
                   hidden_dim=settings.hidden_dim, maps_from=settings.maps_from, pose_scale=settings.pose_scale,
                   heads=settings.heads)

    def scaled_pose(self, xy: Tensor, depth: Tensor) -> Tensor:
        """(x, y, depth) in heatmap pixels -> the (B, P, 3) pose the descriptor and KCS see."""
        joints = torch.cat([xy, depth[..., None]], dim=-1)
        if self.pose_scale == "body":
            joints = joints - joints[..., ROOT : ROOT + 1, :]
            return joints / body_scale(joints)
        if self.pose_scale == "crop":
            return (joints - joints[..., ROOT : ROOT + 1, :]) / self.crop_unit
        if self.pose_scale == "projected":
            return (joints - joints[..., ROOT : ROOT + 1, :]) / projected_scale(xy)
        return joints / float(self.heatmap_size)

    def encode(self, images: Tensor, heatmaps: Tensor, depth: Tensor) -> dict[str, Tensor]:
        """E(S, z) and the image: each source's input, differentiable in heatmaps and depth."""
        b, p, s, h = images.shape[0], self.num_joints, self.image_size, self.heatmap_size
        if tuple(images.shape) != (b, 3, s, s):
            raise ValueError(f"discriminator: images must be (B, 3, {s}, {s}), got {tuple(images.shape)}")
        if tuple(heatmaps.shape) != (b, p, h, h):
            raise ValueError(f"discriminator: heatmaps must be ({b}, {p}, {h}, {h}), got {tuple(heatmaps.shape)}")
        if tuple(depth.shape) != (b, p):
            raise ValueError(f"discriminator: depth must be ({b}, {p}), got {tuple(depth.shape)}")
        heatmaps, depth = heatmaps.float(), depth.float()   # float32 even under autocast
        encoded = {"image": images} if "image" in self.sources else {}
        skeleton = any(src in self.sources for src in SKELETON_SOURCES)
        needs_xy = skeleton or (
            "maps" in self.sources and self.maps_from == "joints")
        xy = soft_argmax(heatmaps, self.soft_argmax_window) if needs_xy else None
        if skeleton:
            pose = self.scaled_pose(xy, depth)
            if "geo" in self.sources:
                encoded["geo"] = geometric_descriptor(pose)
            if "kcs" in self.sources:
                encoded["kcs"] = kinematic_chain_space(pose)
            if "torso" in self.sources:
                encoded["torso"] = torso_frame_bones(pose)
            if "bones" in self.sources:
                encoded["bones"] = bone_lengths(pose)
            if "symmetry" in self.sources:
                encoded["symmetry"] = limb_asymmetry(pose)
        if "maps" in self.sources:
            if self.maps_from == "joints":
                present = (heatmaps.amax(dim=(-2, -1)) > 1e-3).to(heatmaps.dtype)   # all-zero: not annotated
                maps = gaussian_maps(xy, self.heatmap_size) * present[..., None, None]
            else:
                maps = normalized_maps(heatmaps)
            if xy is not None:      # the depths in the unit of the pose the skeleton sources see
                relative = (pose if skeleton else self.scaled_pose(xy, depth))[..., 2]
            elif self.pose_scale == "crop":
                relative = (depth - depth[..., ROOT : ROOT + 1]) / self.crop_unit
            else:                   # no joints to scale by (maps from heatmaps alone): the map side
                relative = depth / float(self.heatmap_size)
            encoded["maps"] = torch.cat([maps, maps * relative[..., None, None]], dim=1)
        return encoded

    def score(self, inputs: Mapping[str, Tensor]) -> Tensor:
        """Each source's input (as `encode` gives them) -> (B, K) logits, K = len(head_names)."""
        embeddings = {name: self.branches[name](inputs[name]) for name in self.sources}
        if self.head_names == ("joint",):
            return self.heads["joint"](torch.cat([embeddings[name] for name in self.sources], dim=1))
        pose = [embeddings[name] for name in self.sources if name in POSE_SOURCES]
        logits = [self.heads[name](embeddings[name]) for name in self.head_names if name != "image"]
        if "image" in self.head_names:
            logits.append(self.heads["image"](torch.cat([embeddings["image"], *pose], dim=1)))
        return torch.cat(logits, dim=1)

    def head_mask(self, is_lab: Tensor, image_samples: str = "all") -> Tensor:
        """(N, K) bool: which head judges which sample (is_lab: (N,) bool). Every head judges every
        sample, except that with image_samples "lab" the image head judges lab samples only."""
        mask = torch.ones(len(is_lab), len(self.head_names), dtype=torch.bool, device=is_lab.device)
        if image_samples == "lab" and "image" in self.head_names:
            mask[:, self.head_names.index("image")] = is_lab.to(torch.bool)
        return mask

    def forward(self, images: Tensor | None = None, heatmaps: Tensor | None = None, depth: Tensor | None = None,
                *, encoded: Mapping[str, Tensor] | None = None) -> Tensor:
        """Logits (B, K) of (images, heatmaps, depth), or of inputs already `encode`d (so that a
        training loop's encoded real and fake samples go through the module's forward, the
        entry point of DDP and torch.compile)."""
        if encoded is None:
            encoded = self.encode(images, heatmaps, depth)
        return self.score(encoded)
