import numpy as np
import pytest
import torch

from posegan.device import autocast, grad_scaler, resolve_device
from posegan.geometry import geometric_descriptor
from posegan.heatmaps import decode_heatmaps, gaussian_heatmaps
from posegan.losses import discriminator_loss, generator_loss, pose_loss
from posegan.models import (Generator, MultiSourceDiscriminator, StackedHourglass, normalize_images,
                            normalized_maps, parse_sources)
from posegan.models.discriminator import DiscriminatorSettings
from posegan.models.generator import ModelSettings
from posegan.settings import ParamsError, build


def count(module):
    return sum(p.numel() for p in module.parameters())


# ------------------------------------------------------------------ 2D module and generator

@pytest.mark.parametrize("stacks, blocks, expected", [(2, 1, 6.57e6), (4, 1, 12.86e6), (2, 2, 12.58e6)])
def test_hourglass_parameter_counts_match_newell(stacks, blocks, expected):
    model = StackedHourglass(num_joints=16, num_stacks=stacks, num_blocks=blocks, num_features=256)
    assert count(model) == pytest.approx(expected, rel=0.02)
    # The stem widens 64 -> 128 -> 128 -> 256, as in Newell's network.
    assert model.stem[0].out_channels == 64 and model.stem[3].conv3.out_channels == 128


@pytest.mark.parametrize("stacks, blocks, features, size", [(1, 1, 16, 64), (2, 1, 16, 64),
                                                            (3, 1, 8, 64), (2, 2, 8, 128)])
def test_generator_output_shapes(stacks, blocks, features, size):
    model = Generator(num_joints=16, num_stacks=stacks, num_blocks=blocks, num_features=features)
    out = model(torch.randn(2, 3, size, size))
    assert len(out.heatmaps) == stacks
    assert all(h.shape == (2, 16, size // 4, size // 4) for h in out.heatmaps)
    assert out.depth.shape == (2, 16)


def test_generator_other_joint_count_and_bad_sizes():
    model = Generator(num_joints=5, num_stacks=1, num_blocks=1, num_features=8).eval()
    out = model(torch.randn(1, 3, 64, 64))
    assert out.heatmaps[0].shape == (1, 5, 16, 16) and out.depth.shape == (1, 5)
    with pytest.raises(ValueError, match="multiple of 64"):
        model(torch.randn(1, 3, 96, 96))
    with pytest.raises(ValueError, match=r"\(B, 3, S, S\)"):
        model(torch.randn(1, 64, 64, 3))
    with pytest.raises(ValueError, match="num_features"):
        Generator(num_features=30)
    with pytest.raises(ValueError, match="model.num_stacks"):
        Generator(num_stacks=0)


MODEL = {"num_stacks": 1, "num_blocks": 1, "num_features": 8, "depth_pooling": "global", "fix_2d": False}


def test_generator_from_settings():
    model = Generator.build(build(ModelSettings, MODEL, "model", "params.yaml"))
    assert model.pose_2d.num_stacks == 1 and model.pose_2d.num_features == 8
    with pytest.raises(ParamsError, match=r"params.yaml: model.num_features is missing"):
        build(ModelSettings, {k: v for k, v in MODEL.items() if k != "num_features"}, "model", "params.yaml")
    # The runtime keys are no part of what the network is.
    with pytest.raises(ParamsError, match="unknown key model.device"):
        build(ModelSettings, {**MODEL, "device": "cpu"}, "model", "params.yaml")


def test_depth_pooling_global_and_grid():
    # Global: one average per channel; grid: a 4 x 4 average map, flattened (paper vs Zhou et al.'s code).
    for size, pooling, fc_inputs in [(128, "global", 8), (128, "grid", 8 * 16), (256, "grid", 8 * 16)]:
        model = Generator(num_stacks=1, num_blocks=1, num_features=8, depth_pooling=pooling).eval()
        assert model.depth_regressor.fc.in_features == fc_inputs
        assert model(torch.randn(2, 3, size, size)).depth.shape == (2, 16)
    # The grid pool of a 4 x 4 map is the map itself; at 8 x 8 it averages 2 x 2 cells.
    regressor = Generator(num_stacks=1, num_blocks=1, num_features=8, depth_pooling="grid").depth_regressor
    x = torch.arange(64.0).reshape(1, 1, 8, 8)
    assert torch.equal(regressor.pool(x[..., :4, :4]), x[..., :4, :4])
    assert regressor.pool(x)[0, 0, 0, 0] == (0 + 1 + 8 + 9) / 4
    with pytest.raises(ValueError, match="model.depth_pooling"):
        Generator(num_features=8, depth_pooling="max")
    # A 2 x 2 map (64 px crops) fills the grid by repetition: each cell counts four times.
    assert torch.equal(regressor.pool(x[..., :2, :2])[0, 0], x[0, 0, :2, :2].repeat_interleave(2, 0).repeat_interleave(2, 1))
    assert Generator(num_stacks=1, num_blocks=1, num_features=8, depth_pooling="grid")(
        torch.randn(2, 3, 64, 64)).depth.shape == (2, 16)
    # From a model file's model_params: "global" when absent (files written before the option).
    base = {"num_stacks": 1, "num_blocks": 1, "num_features": 8}
    assert Generator.build(ModelSettings.from_model_file(base)).depth_regressor.pooling == "global"
    assert Generator.build(ModelSettings.from_model_file({**base, "depth_pooling": "grid"})
                           ).depth_regressor.pooling == "grid"
    assert Generator.build(build(ModelSettings, {**MODEL, "depth_pooling": "grid"}, "model", "params.yaml")
                           ).depth_regressor.pooling == "grid"
    with pytest.raises(ParamsError, match="model.depth_pooling must be one of global, grid"):
        build(ModelSettings, {**MODEL, "depth_pooling": "max"}, "model", "params.yaml")


def test_channels_last_layout_gives_the_same_outputs():
    torch.manual_seed(0)
    model = Generator(num_stacks=2, num_blocks=1, num_features=8, depth_pooling="grid").eval()
    assert model.pose_2d.stem[0].weight.is_contiguous(memory_format=torch.channels_last)
    images = torch.randn(2, 3, 128, 128)
    out = model(images)
    reference = Generator(num_stacks=2, num_blocks=1, num_features=8, depth_pooling="grid").eval()
    reference.load_state_dict(model.state_dict())
    reference.use_memory_format(torch.contiguous_format)
    assert reference.pose_2d.stem[0].weight.is_contiguous()
    ref = reference(images)
    torch.testing.assert_close(out.heatmaps[-1], ref.heatmaps[-1], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out.depth, ref.depth, rtol=1e-4, atol=1e-5)


def test_normalize_images_layouts_and_values():
    nhwc = np.zeros((2, 64, 64, 3), np.uint8)
    nhwc[0, 0, 0] = [0, 255, 51]
    x = normalize_images(nhwc)
    assert x.dtype == torch.float32 and x.shape == (2, 3, 64, 64)
    torch.testing.assert_close(x[0, :, 0, 0], torch.tensor([-1.0, 1.0, 51 / 127.5 - 1]))
    nchw = torch.from_numpy(nhwc).permute(0, 3, 1, 2).contiguous()
    torch.testing.assert_close(normalize_images(nchw), x)
    with pytest.raises(ValueError, match="uint8"):
        normalize_images(nhwc.astype(np.float32))
    with pytest.raises(ValueError, match=r"\(B, S, S, 3\)"):
        normalize_images(np.zeros((2, 64, 64, 4), np.uint8))


def test_fix_2d_freezes_the_2d_module():
    model = Generator(num_stacks=1, num_blocks=1, num_features=8, fix_2d=True).train()
    assert all(not p.requires_grad for p in model.pose_2d.parameters())
    assert all(p.requires_grad for p in model.depth_regressor.parameters())
    assert not model.pose_2d.training and model.depth_regressor.training
    bn = model.pose_2d.stem[1]
    before = bn.running_mean.clone()
    out = model(torch.randn(2, 3, 64, 64))
    torch.testing.assert_close(bn.running_mean, before)       # eval-mode BN: statistics untouched
    pose_loss(out.heatmaps, out.depth, torch.rand(2, 16, 16, 16), torch.randn(2, 16)).total.backward()
    assert all(p.grad is None for p in model.pose_2d.parameters())
    assert all(p.grad is not None for p in model.depth_regressor.parameters())
    model.fix_2d = False
    model.train()
    assert model.pose_2d.training and all(p.requires_grad for p in model.pose_2d.parameters())


def test_fresh_depth_regressor_on_a_pretrained_2d_module():
    torch.manual_seed(0)
    pretrained = StackedHourglass(num_stacks=2, num_blocks=1, num_features=8).eval()
    images = torch.randn(2, 3, 64, 64)
    for source in (pretrained.state_dict(),
                   Generator(num_stacks=2, num_blocks=1, num_features=8).state_dict()):
        model = Generator(num_stacks=2, num_blocks=1, num_features=8).eval()
        depth_before = {k: v.clone() for k, v in model.depth_regressor.state_dict().items()}
        model.load_2d_state_dict(source)
        for k, v in model.pose_2d.state_dict().items():
            key = k if k in source else "pose_2d." + k
            torch.testing.assert_close(v, source[key])
        for k, v in model.depth_regressor.state_dict().items():
            torch.testing.assert_close(v, depth_before[k])
    model.load_2d_state_dict(pretrained.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(model(images).heatmaps[-1], pretrained(images).heatmaps[-1])
    with pytest.raises(RuntimeError):
        Generator(num_stacks=1, num_blocks=1, num_features=8).load_2d_state_dict(pretrained.state_dict())


# ------------------------------------------------------------------ discriminator

@pytest.mark.parametrize("value, expected", [
    ("map", ("image", "maps")), ("geo", ("image", "geo")), ("full", ("image", "geo", "maps")),
    ("FULL", ("image", "geo", "maps")), (["geo"], ("geo",)), ("maps", ("maps",)),
    ("maps, image", ("image", "maps")), (("geo", "maps"), ("geo", "maps")), ("geo,", ("geo",)),
    ("[image, geo]", ("image", "geo")), ("[geo]", ("geo",)), ("['maps', 'geo']", ("geo", "maps")),
])
def test_parse_sources(value, expected):
    assert parse_sources(value) == expected


@pytest.mark.parametrize("value", ["", [], "[]", "heatmaps", ["image", "depth"], None, 3, {"image": 1}])
def test_parse_sources_errors_name_the_param(value):
    with pytest.raises(ValueError, match="discriminator.sources"):
        parse_sources(value)


def real_sample(b=2, size=64, seed=0):
    """Images, ground-truth Gaussian heatmaps, depths and the joints they encode."""
    rng = np.random.default_rng(seed)
    h = size // 4
    joints = rng.uniform(3, h - 4, size=(b, 16, 2)).astype(np.float32)
    images = normalize_images(rng.integers(0, 256, size=(b, size, size, 3), dtype=np.uint8))
    heatmaps = torch.from_numpy(gaussian_heatmaps(joints, h))
    depth = torch.from_numpy(rng.normal(0, 3, size=(b, 16)).astype(np.float32))
    return images, heatmaps, depth, torch.from_numpy(joints)


@pytest.mark.parametrize("sources", [["image"], ["geo"], ["maps"], ["kcs"], ["torso"], ["kcs", "torso"], ["image", "geo"], ["image", "maps"],
                                     ["geo", "maps"], "full", ["image", "geo", "maps", "kcs"]])
@pytest.mark.parametrize("heads", ["joint", "per_source"])
def test_each_source_subset_alone_and_together(sources, heads):
    disc = MultiSourceDiscriminator(sources, num_joints=16, image_size=64, heatmap_size=16, width=4,
                                    embed_dim=8, hidden_dim=16, heads=heads)
    assert set(disc.branches) == set(parse_sources(sources))
    pose_sources = [s for s in parse_sources(sources) if s != "image"]
    if heads == "joint" or not pose_sources:
        assert disc.head_names == ("joint",)
    else:   # a head per pose source, the image only in a head that also sees the pose
        assert disc.head_names == tuple(pose_sources) + (("image",) if "image" in parse_sources(sources) else ())
    images, heatmaps, depth, _ = real_sample()
    logits = disc(images, heatmaps, depth)
    assert logits.shape == (2, len(disc.head_names)) and torch.isfinite(logits).all()
    # Every branch in use influences the logit.
    logits.sum().backward()
    for name, branch in disc.branches.items():
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in branch.parameters()), name


DISCRIMINATOR = {"sources": "geo", "width": 4, "embed_dim": 8, "hidden_dim": 8, "maps_from": "heatmaps",
                 "pose_scale": "heatmap", "heads": "joint", "image_samples": "all", "objective": "bce",
                 "gradient_penalty": 0.0}


def discriminator_settings(**changes) -> DiscriminatorSettings:
    return build(DiscriminatorSettings, {**DISCRIMINATOR, **changes}, "discriminator", "params.yaml")


def test_discriminator_from_settings_and_shape_errors():
    disc = MultiSourceDiscriminator.build(discriminator_settings(), 16, 64, 16)
    assert disc.sources == ("image", "geo")
    # parsed once, where the file is read: the settings hold the source names themselves
    assert discriminator_settings(sources="full").sources == ("image", "geo", "maps")
    assert discriminator_settings(sources=["maps", "geo"]).sources == ("geo", "maps")
    assert DiscriminatorSettings().sources == discriminator_settings(sources="full").sources
    with pytest.raises(ParamsError, match="discriminator.width is missing"):
        build(DiscriminatorSettings, {"sources": "geo"}, "discriminator", "params.yaml")
    with pytest.raises(ParamsError, match="discriminator.sources"):
        discriminator_settings(sources="heatmaps")
    images, heatmaps, depth, _ = real_sample()
    with pytest.raises(ValueError, match="heatmaps"):
        disc(images, heatmaps[:, :, :8, :8], depth)
    with pytest.raises(ValueError, match="depth"):
        disc(images, heatmaps, depth[:, :5])
    with pytest.raises(ValueError, match="images"):
        disc(images[:, :, :32, :32], heatmaps, depth)


def test_maps_from_joints_hide_the_heatmaps_appearance():
    """maps_from="joints": Gaussians at the soft-argmax positions, whatever the maps look like."""
    disc = MultiSourceDiscriminator("map", num_joints=16, image_size=64, heatmap_size=16, width=4,
                                    embed_dim=8, hidden_dim=8, maps_from="joints")
    images, heatmaps, depth, _ = real_sample()
    real = disc.encode(images, heatmaps, depth)["maps"]
    torch.testing.assert_close(real[:, :16], heatmaps, atol=5e-3, rtol=0)   # the targets, drawn again
    # A "predicted" map: the same peaks at a third of the height on a raised plateau (a
    # blurrier, lower map than the targets).
    fake = (heatmaps / 3 + 0.01 * (heatmaps > 0.05)).requires_grad_(True)
    encoded = disc.encode(images, fake, depth)["maps"]
    torch.testing.assert_close(encoded, real, atol=0.02, rtol=0)
    encoded.sum().backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0     # still reaches the generator
    unannotated = heatmaps.clone()
    unannotated[:, 3] = 0
    assert disc.encode(images, unannotated, depth)["maps"][:, 3].abs().max() == 0
    assert MultiSourceDiscriminator.build(discriminator_settings(sources="map", maps_from="joints"),
                                          16, 64, 16).maps_from == "joints"
    with pytest.raises(ValueError, match="discriminator.maps_from"):
        MultiSourceDiscriminator("map", maps_from="pixels")
    with pytest.raises(ParamsError, match="discriminator.maps_from must be one of joints, heatmaps"):
        discriminator_settings(maps_from="pixels")


def test_pose_encoding_of_a_real_sample():
    """E(S, z) of ground-truth heatmaps: the descriptor of the true joints, maps of peak 1."""
    disc = MultiSourceDiscriminator("full", num_joints=16, image_size=64, heatmap_size=16, width=4,
                                    embed_dim=8, hidden_dim=8, maps_from="heatmaps")
    images, heatmaps, depth, joints = real_sample()
    encoded = disc.encode(images, heatmaps, depth)
    expected = geometric_descriptor(torch.cat([joints, depth[..., None]], dim=-1) / 16)
    torch.testing.assert_close(encoded["geo"], expected, atol=1e-3, rtol=0)
    maps = encoded["maps"]
    assert maps.shape == (2, 32, 16, 16)
    torch.testing.assert_close(maps[:, :16].amax(dim=(-2, -1)), torch.ones(2, 16))
    torch.testing.assert_close(maps[:, 16:], maps[:, :16] * (depth / 16)[..., None, None])
    # A prediction with lower peaks and negative noise is put on the same footing.
    noisy = 0.5 * heatmaps - 0.01
    torch.testing.assert_close(normalized_maps(noisy).amax(dim=(-2, -1)), torch.ones(2, 16))
    assert normalized_maps(noisy).min() == 0
    assert normalized_maps(torch.zeros(1, 1, 4, 4)).abs().sum() == 0


def test_body_scale_makes_the_pose_inputs_size_free():
    """pose_scale="body": a person twice as large (about the pelvis) gives the same descriptor,
    KCS and depth maps; a moved person too."""
    disc = MultiSourceDiscriminator(["geo", "maps", "kcs"], num_joints=16, image_size=64, heatmap_size=16,
                                    width=4, embed_dim=8, hidden_dim=8, pose_scale="body")
    images, _, depth, joints = real_sample()
    joints = 8.0 + 0.25 * (joints - 8.0)                  # a small person in the middle of the map
    centre = joints[:, 6:7]
    big = centre + 2.0 * (joints - centre) + torch.tensor([0.5, -0.5])
    small_maps = torch.from_numpy(gaussian_heatmaps(joints.numpy(), 16))
    big_maps = torch.from_numpy(gaussian_heatmaps(big.numpy(), 16))
    small = disc.encode(images, small_maps, depth)
    large = disc.encode(images, big_maps, 2.0 * depth + 3.0)
    torch.testing.assert_close(large["geo"], small["geo"], atol=2e-3, rtol=0)
    torch.testing.assert_close(large["kcs"], small["kcs"], atol=2e-3, rtol=0)
    def depth_at_peak(maps):    # depth map / heatmap at each joint's peak: the joint's scaled depth
        peak = maps[:, :16].flatten(2).argmax(-1, keepdim=True)
        return maps[:, 16:].flatten(2).gather(-1, peak)[..., 0] / maps[:, :16].flatten(2).gather(-1, peak)[..., 0]

    torch.testing.assert_close(depth_at_peak(large["maps"]), depth_at_peak(small["maps"]), atol=2e-3, rtol=0)
    # the KCS diagonal: squared bone lengths in units of the mean bone length
    from posegan.skeleton import BONES
    pose = torch.cat([joints, depth[..., None]], -1)
    pose = pose - pose[:, 6:7]
    lengths = torch.stack([(pose[:, c] - pose[:, p]).norm(dim=-1) for p, c in BONES], 1)
    diagonal = torch.tensor([sum(15 - r for r in range(i)) for i in range(15)])
    torch.testing.assert_close(small["kcs"][:, diagonal], (lengths / lengths.mean(1, keepdim=True)).square(),
                               atol=2e-3, rtol=0)


def test_bones_source_sees_the_proportions_only():
    """sources [bones], body scale: the branch input is the 15 bone lengths over their mean (a
    size-free and, test_geometry, rotation-free input), and D's gradient reaches the depths."""
    from posegan.geometry import bone_lengths

    disc = MultiSourceDiscriminator(["bones"], num_joints=16, image_size=64, heatmap_size=16,
                                    width=4, embed_dim=8, hidden_dim=8, pose_scale="body")
    assert disc.head_names == ("joint",) and set(disc.branches) == {"bones"}
    images, heatmaps, depth, joints = real_sample()
    encoded = disc.encode(images, heatmaps, depth)
    assert set(encoded) == {"bones"} and encoded["bones"].shape == (2, 15)
    lengths = bone_lengths(torch.cat([joints, depth[..., None]], -1))
    torch.testing.assert_close(encoded["bones"], lengths / lengths.mean(1, keepdim=True), atol=2e-3, rtol=0)
    depth = depth.clone().requires_grad_(True)
    disc(images, heatmaps, depth).sum().backward()
    assert depth.grad.abs().sum() > 0


def test_symmetry_source_sees_the_limb_pairs_length_differences():
    """sources [symmetry], projected scale: the branch input is geometry.limb_asymmetry of the
    scaled pose (6 values), and D's gradient reaches the 2D joints through the heatmaps."""
    from posegan.geometry import limb_asymmetry
    from posegan.heatmaps import soft_argmax

    disc = MultiSourceDiscriminator(["symmetry"], num_joints=16, image_size=64, heatmap_size=16,
                                    width=4, embed_dim=8, hidden_dim=8, pose_scale="projected")
    assert disc.head_names == ("joint",) and set(disc.branches) == {"symmetry"}
    assert parse_sources("image,geo,maps,symmetry") == ("image", "geo", "maps", "symmetry")
    images, heatmaps, depth, joints = real_sample()
    encoded = disc.encode(images, heatmaps, depth)
    assert set(encoded) == {"symmetry"} and encoded["symmetry"].shape == (2, 6)
    xy = soft_argmax(heatmaps)
    torch.testing.assert_close(encoded["symmetry"], limb_asymmetry(disc.scaled_pose(xy, depth)))
    heatmaps = heatmaps.clone().requires_grad_(True)
    disc(images, heatmaps, depth).sum().backward()
    assert heatmaps.grad.abs().sum() > 0


def test_crop_scale_keeps_the_size_against_the_crop():
    """pose_scale="crop": root-relative (x, y, depth) in eighths of the map side (16 / 8 = 2
    heatmap pixels here); moving the person away changes nothing, making it deeper does,
    and the depth maps carry the root-relative depth in the same unit."""
    from posegan.geometry import kinematic_chain_space
    from posegan.heatmaps import soft_argmax

    disc = MultiSourceDiscriminator(["maps", "kcs", "bones"], num_joints=16, image_size=64, heatmap_size=16,
                                    width=4, embed_dim=8, hidden_dim=8, pose_scale="crop")
    images, heatmaps, depth, joints = real_sample()
    encoded = disc.encode(images, heatmaps, depth)
    pose = torch.cat([soft_argmax(heatmaps, 3), depth[..., None]], -1)    # where D reads the joints
    expected = (pose - pose[:, 6:7]) / 2.0
    torch.testing.assert_close(encoded["kcs"], kinematic_chain_space(expected), atol=1e-5, rtol=1e-5)
    moved = disc.encode(images, heatmaps, depth + 5.0)           # the person further away
    torch.testing.assert_close(moved["maps"], encoded["maps"], atol=1e-5, rtol=0)
    deeper = disc.encode(images, heatmaps, 2.0 * depth)
    assert not torch.allclose(deeper["bones"], encoded["bones"], atol=1e-2)
    peak = encoded["maps"][:, :16].flatten(2).argmax(-1, keepdim=True)
    at_peak = (encoded["maps"][:, 16:].flatten(2).gather(-1, peak)[..., 0]
               / encoded["maps"][:, :16].flatten(2).gather(-1, peak)[..., 0])
    torch.testing.assert_close(at_peak, (depth - depth[:, 6:7]) / 2.0, atol=2e-3, rtol=0)


def test_projected_scale_is_fixed_by_the_2d_joints():
    """pose_scale="projected": root-relative (x, y, depth) over the mean length of the bones' 2D
    projections. A person twice as large in the image (2D and depths) gives the same inputs; the
    depths alone doubled do not, and leave the unit as it was."""
    from posegan.geometry import bone_lengths
    from posegan.heatmaps import soft_argmax
    from posegan.models.discriminator import projected_scale
    from posegan.skeleton import BONES

    # A hand-worked unit: a pose whose 15 bone projections are each 3 pixels long has unit 3.
    chain = torch.zeros(1, 16, 2)
    for _ in range(len(BONES)):        # each child 3 px right of its parent, settled from the root out
        for parent, child in BONES:
            chain[0, child] = chain[0, parent] + torch.tensor([3.0, 0.0])
    torch.testing.assert_close(projected_scale(chain), torch.full((1, 1, 1), 3.0))

    disc = MultiSourceDiscriminator(["maps", "bones"], num_joints=16, image_size=64, heatmap_size=16,
                                    width=4, embed_dim=8, hidden_dim=8, pose_scale="projected")
    images, _, depth, joints = real_sample()
    joints = 8.0 + 0.25 * (joints - 8.0)
    centre = joints[:, 6:7]
    big = centre + 2.0 * (joints - centre)
    small_maps = torch.from_numpy(gaussian_heatmaps(joints.numpy(), 16))
    big_maps = torch.from_numpy(gaussian_heatmaps(big.numpy(), 16))
    small = disc.encode(images, small_maps, depth)
    xy = soft_argmax(small_maps, 3)
    pose = torch.cat([xy, depth[..., None]], -1)
    unit = bone_lengths(torch.cat([xy, torch.zeros_like(xy[..., :1])], -1)).mean(1)[:, None]
    torch.testing.assert_close(small["bones"], bone_lengths(pose) / unit, atol=1e-5, rtol=1e-5)
    large = disc.encode(images, big_maps, 2.0 * depth + 3.0)
    # within the soft-argmax's reading of discrete Gaussian maps (0.3% here)
    torch.testing.assert_close(large["bones"], small["bones"], atol=0, rtol=5e-3)
    deeper = disc.encode(images, small_maps, 2.0 * depth)
    assert (deeper["bones"] > small["bones"] + 1e-3).any()
    peak = small["maps"][:, :16].flatten(2).argmax(-1, keepdim=True)
    at_peak = (deeper["maps"][:, 16:].flatten(2).gather(-1, peak)[..., 0]
               / deeper["maps"][:, :16].flatten(2).gather(-1, peak)[..., 0])
    torch.testing.assert_close(at_peak, 2.0 * (depth - depth[:, 6:7]) / unit, atol=2e-3, rtol=0)


def test_image_samples_lab_needs_per_source_heads():
    assert discriminator_settings(sources="full", heads="per_source", image_samples="lab").image_samples == "lab"
    with pytest.raises(ParamsError, match="image_samples: lab needs heads: per_source"):
        discriminator_settings(sources="full", image_samples="lab")
    with pytest.raises(ParamsError, match="discriminator.objective must be one of bce, wasserstein"):
        discriminator_settings(objective="hinge")


# ------------------------------------------------------------------ adversarial gradient flow

def gan_pair(sources, fix_2d=False):
    torch.manual_seed(0)
    gen = Generator(num_stacks=2, num_blocks=1, num_features=8, fix_2d=fix_2d).train()
    disc = MultiSourceDiscriminator(sources, num_joints=16, image_size=64, heatmap_size=16, width=4,
                                    embed_dim=8, hidden_dim=8)
    return gen, disc


def snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def unchanged(module, before):
    return all(torch.equal(p, q) for p, q in zip(module.parameters(), before))


@pytest.mark.parametrize("sources", ["full", "map", "geo", ["geo"], ["maps"]])
def test_generator_step_reaches_the_generator_and_leaves_the_discriminator(sources):
    gen, disc = gan_pair(sources)
    images, heatmaps, depth, _ = real_sample()
    out = gen(images)
    # The adversarial term alone reaches both parts of the generator.
    adv = generator_loss(disc(images, out.heatmaps[-1], out.depth), torch.zeros(()), lam=1.0)
    grads_2d = torch.autograd.grad(adv, list(gen.pose_2d.parameters()), retain_graph=True, allow_unused=True)
    grads_depth = torch.autograd.grad(adv, list(gen.depth_regressor.parameters()), retain_graph=True)
    assert any(g is not None and g.abs().sum() > 0 for g in grads_2d)
    assert any(g.abs().sum() > 0 for g in grads_depth)
    # A full generator step (Eq. 5) moves G and leaves D as it was.
    opt_g = torch.optim.Adam(gen.parameters(), lr=1e-3)
    d_before, g_before = snapshot(disc), snapshot(gen)
    loss = generator_loss(disc(images, out.heatmaps[-1], out.depth),
                          pose_loss(out.heatmaps, out.depth, heatmaps, depth), lam=1e-4)
    opt_g.zero_grad()
    loss.backward()
    opt_g.step()
    assert unchanged(disc, d_before)
    assert not unchanged(gen, g_before)


def test_image_only_discriminator_gives_the_generator_no_gradient():
    gen, disc = gan_pair(["image"])
    images = real_sample()[0]
    out = gen(images)
    logits = disc(images, out.heatmaps[-1], out.depth)
    assert not logits.requires_grad or all(
        g is None for g in torch.autograd.grad(logits.sum(), list(gen.parameters()), allow_unused=True))


def test_fix_2d_generator_step_moves_only_the_depth_regressor():
    gen, disc = gan_pair("full", fix_2d=True)
    images, heatmaps, depth, _ = real_sample()
    opt_g = torch.optim.Adam([p for p in gen.parameters() if p.requires_grad], lr=1e-3)
    before_2d, before_depth = snapshot(gen.pose_2d), snapshot(gen.depth_regressor)
    out = gen(images)
    loss = generator_loss(disc(images, out.heatmaps[-1], out.depth),
                          pose_loss(out.heatmaps, out.depth, heatmaps, depth), lam=1.0)
    opt_g.zero_grad()
    loss.backward()
    opt_g.step()
    assert unchanged(gen.pose_2d, before_2d) and not unchanged(gen.depth_regressor, before_depth)


@pytest.mark.parametrize("sources", ["full", ["image"]])
def test_discriminator_step_leaves_the_generator(sources):
    gen, disc = gan_pair(sources)
    images, heatmaps, depth, _ = real_sample()
    opt_d = torch.optim.Adam(disc.parameters(), lr=1e-3)
    g_before, d_before = snapshot(gen), snapshot(disc)
    with torch.no_grad():
        fake = gen(images)
    loss = discriminator_loss(disc(images, heatmaps, depth), disc(images, fake.heatmaps[-1], fake.depth))
    opt_d.zero_grad()
    loss.backward()
    opt_d.step()
    assert unchanged(gen, g_before) and all(p.grad is None for p in gen.parameters())
    assert not unchanged(disc, d_before)
    # Also when the fake comes from a graph that was not built under no_grad but detached.
    out = gen(images)
    loss = discriminator_loss(disc(images, heatmaps, depth),
                              disc(images, out.heatmaps[-1].detach(), out.depth.detach()))
    loss.backward()
    assert all(p.grad is None for p in gen.parameters())


# ------------------------------------------------------------------ overfitting

def synthetic_batch(n=8, size=64, seed=0):
    """n images showing one coloured blob per joint, with their heatmaps and depths."""
    rng = np.random.default_rng(seed)
    h = size // 4
    joints = rng.uniform(2, h - 3, size=(n, 16, 2)).astype(np.float32)
    colours = rng.uniform(0.2, 1.0, size=(16, 3))
    yy, xx = np.mgrid[0:size, 0:size]
    images = np.zeros((n, size, size, 3))
    for i in range(n):
        for j in range(16):
            cx, cy = (joints[i, j] + 0.5) * 4 - 0.5     # heatmap -> image pixels
            images[i] += np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 8.0)[..., None] * colours[j]
    images = (np.clip(images, 0, 1) * 255).astype(np.uint8)
    depth = rng.normal(0, 3, size=(n, 16)).astype(np.float32)
    return (normalize_images(images), torch.from_numpy(gaussian_heatmaps(joints, h)),
            torch.from_numpy(depth), torch.from_numpy(joints))


@pytest.fixture
def one_thread():
    """Tiny networks run as fast on one thread, and do not thrash when the CPU is shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_generator_overfits_eight_synthetic_samples(one_thread):
    torch.manual_seed(0)
    images, heatmaps, depth, joints = synthetic_batch()
    model = Generator(num_stacks=1, num_blocks=1, num_features=32).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    losses = []   # 300 steps of a 1 x 32 network on 64-px images: ~12 s on one core
    for _ in range(300):
        out = model(images)
        loss = pose_loss(out.heatmaps, out.depth, heatmaps, depth)
        optimizer.zero_grad()
        loss.total.backward()
        optimizer.step()
        losses.append(loss)
    first, last = losses[0], losses[-1]
    assert last.total.item() <= 0.1 * first.total.item()
    # Not just shrinking outputs: far below the error of predicting all-zero maps / depths ...
    assert last.heatmap.item() < 0.35 * heatmaps.square().sum().item() / 8
    assert last.depth.item() < 0.05 * depth.square().sum().item() / 8
    # ... and the decoded joints land on the right pixels.
    with torch.no_grad():
        coords, _ = decode_heatmaps(model(images).heatmaps[-1])
    assert (coords - joints).norm(dim=-1).mean() < 0.5


# ------------------------------------------------------------------ devices

def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" AUTO ").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="runtime.device"):
        resolve_device("tpu")
    with pytest.raises(ValueError, match="runtime.device"):
        resolve_device(None)
    with pytest.raises(ValueError, match="runtime.device"):
        resolve_device("cuda:x")


def test_runtime_device_is_resolved_where_the_section_is_read():
    from posegan.device import RuntimeSettings
    from posegan.settings import ParamsError, build

    section = {"device": "cpu", "amp": False, "threads": 0}
    assert build(RuntimeSettings, section, "runtime", "params.yaml").device == torch.device("cpu")
    with pytest.raises(ParamsError, match=r"^params.yaml: runtime.device must be auto, cpu, cuda or cuda:N, got 'tpu'$"):
        build(RuntimeSettings, dict(section, device="tpu"), "runtime", "params.yaml")
    assert RuntimeSettings().device == resolve_device("auto")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without CUDA")
def test_cuda_requested_without_cuda_is_a_clear_error():
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        resolve_device("cuda")


def test_autocast_and_scaler_are_no_ops_on_cpu():
    cpu = torch.device("cpu")
    a = torch.randn(4, 4)
    with autocast(cpu, amp=True):
        assert (a @ a).dtype == torch.float32
    scaler = grad_scaler(cpu, amp=True)
    assert not scaler.is_enabled()
    loss = (a.requires_grad_(True) ** 2).sum()
    assert scaler.scale(loss) is loss


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_models_run_on_cuda_with_amp():
    cuda = resolve_device("cuda")
    gen = Generator(num_stacks=1, num_blocks=1, num_features=8).to(cuda)
    disc = MultiSourceDiscriminator("full", 16, 64, 16, width=4, embed_dim=8, hidden_dim=8).to(cuda)
    images, heatmaps, depth, _ = (t.to(cuda) for t in real_sample())
    with autocast(cuda, amp=True):
        out = gen(images)
        logits = disc(images, out.heatmaps[-1], out.depth)
    assert out.heatmaps[-1].dtype == torch.float16
    loss = generator_loss(logits, pose_loss(out.heatmaps, out.depth, heatmaps, depth))
    assert loss.dtype == torch.float32
    grad_scaler(cuda, amp=True).scale(loss).backward()
