"""Cameras, backgrounds, occluders, lighting and image post-processing for the synthetic benchmark.

World frame: millimetres, y up, the floor is the plane y = 0. A camera's extrinsics are
(rotation, centre): camera point = rotation @ (world point - centre), camera axes x right,
y down, z forward. Backgrounds are ray-cast in world coordinates through the pixels of the
crop camera, so a crop shows exactly the part of the scene the original camera would see.

- Lab (Human3.6M stand-in): a plain studio - a 8.4 m square room with light grey panelled
  walls, a grey floor with a darker capture mat, fixed overhead lighting, four fixed
  1000 x 1000 px cameras (f about 1150 px) in the room's corners, 4.6 to 5.1 m from the
  centre at about chest height (1.45 to 1.65 m).
- Wild (MPII stand-in): a textured ground plane (grass, asphalt, tiles, wood, sand) and a
  cluttered backdrop wall at a random distance (random shapes, stripes and noise), sky
  above it outdoors, sun from a random direction, random colour cast; objects in front of
  the person (boxes, poles, balls) that occlude parts of the body.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from posegan.data.synthetic.render import Box, Capsule, Ellipsoid, Light

UP = np.array([0.0, 1.0, 0.0])


# ----------------------------------------------------------------------------- cameras

def look_at(centre, target, roll_deg: float = 0.0) -> np.ndarray:
    """(3, 3) world-to-camera rotation of a camera at `centre` looking at `target` (world y up)."""
    z = np.asarray(target, dtype=np.float64) - np.asarray(centre, dtype=np.float64)
    z /= np.linalg.norm(z)
    x = np.cross(z, UP)
    if np.linalg.norm(x) < 1e-6:  # looking straight up or down
        x = np.array([1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    r = np.deg2rad(roll_deg)
    x, y = np.cos(r) * x + np.sin(r) * y, -np.sin(r) * x + np.cos(r) * y
    return np.stack([x, y, z])


def world_to_camera(points: np.ndarray, rotation: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """(..., 3) world mm -> camera mm."""
    return (np.asarray(points, dtype=np.float64) - centre) @ rotation.T


# Human3.6M-like studio: four cameras in the corners of the room.
LAB_IMAGE_SIZE = (1000, 1000)  # width, height
LAB_CAMERA_NAMES = ["54138969", "55011271", "58860488", "60457274"]
_LAB_CAMERA_SETUP = [  # azimuth (deg), distance (mm), height (mm), roll (deg), fx, fy, cx, cy
    (45.0, 4750.0, 1560.0, 0.4, 1145.0, 1144.0, 512.5, 515.5),
    (-40.0, 4900.0, 1480.0, -0.3, 1149.7, 1147.6, 508.8, 508.1),
    (140.0, 4650.0, 1620.0, 0.2, 1149.1, 1148.8, 519.8, 501.4),
    (-135.0, 5100.0, 1510.0, -0.5, 1145.5, 1144.8, 514.9, 501.9),
]
LAB_ROOM_HALF_WIDTH = 4200.0
LAB_AREA_RADIUS = 1100.0  # subjects stay within this distance of the room centre


def lab_cameras():
    """The four fixed lab cameras: list of (intrinsics (4,), rotation (3, 3), centre (3,))."""
    cams = []
    for az, dist, height, roll, fx, fy, cx, cy in _LAB_CAMERA_SETUP:
        a = np.deg2rad(az)
        centre = np.array([dist * np.sin(a), height, dist * np.cos(a)])
        rotation = look_at(centre, [0.0, 900.0, 0.0], roll)
        cams.append((np.array([fx, fy, cx, cy]), rotation, centre))
    return cams


def world_rays(camera: np.ndarray, rotation: np.ndarray, image_size: int) -> np.ndarray:
    """(S, S, 3) world-space ray directions through the pixels (camera z component 1)."""
    from posegan.data.synthetic.render import pixel_rays

    return pixel_rays(camera, image_size) @ rotation


def _value_noise(table: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Bilinear lookup of a periodic random lattice `table` (n, n) at float coordinates u, v."""
    n = table.shape[0]
    u0, v0 = np.floor(u), np.floor(v)
    fu, fv = u - u0, v - v0
    fu, fv = fu * fu * (3 - 2 * fu), fv * fv * (3 - 2 * fv)
    i0, j0 = u0.astype(np.int64) % n, v0.astype(np.int64) % n
    i1, j1 = (i0 + 1) % n, (j0 + 1) % n
    top = table[j0, i0] * (1 - fu) + table[j0, i1] * fu
    bottom = table[j1, i0] * (1 - fu) + table[j1, i1] * fu
    return top * (1 - fv) + bottom * fv


def shadow_factor(floor_x: np.ndarray, floor_z: np.ndarray, joints_world: np.ndarray,
                  stature: float) -> np.ndarray:
    """Soft contact shadow (multiplier in 0.5..1) on floor points (x, z) under a person's joints."""
    shade = np.zeros_like(floor_x)
    # Broad shadow under the pelvis and chest, small ones under the feet and knees.
    for joint, sigma in ((6, 0.14), (7, 0.12), (0, 0.05), (5, 0.05), (1, 0.06), (4, 0.06)):
        x, y, z = (float(v) for v in joints_world[joint])
        weight = np.exp(-max(y, 0.0) / (0.6 * stature))
        d2 = (floor_x - x) ** 2 + (floor_z - z) ** 2
        shade = np.maximum(shade, weight * np.exp(-d2 / (2 * (sigma * stature) ** 2)))
    return 1.0 - 0.5 * shade


# ----------------------------------------------------------------------------- lab studio

_LAB_LIGHT_WORLD = np.array([0.25, 0.85, 0.45])
_LAB_CEILING = 3200.0


def lab_light(rotation: np.ndarray) -> Light:
    """The studio's fixed light seen from one camera."""
    direction = rotation @ (_LAB_LIGHT_WORLD / np.linalg.norm(_LAB_LIGHT_WORLD))
    return Light(direction=tuple(direction), ambient=0.5, diffuse=0.6, specular=0.08)


def lab_background(camera, rotation, centre, image_size: int, joints_world=None, stature=1750.0) -> np.ndarray:
    """(S, S, 3) float 0..1: the studio room seen through a (crop) camera."""
    d = world_rays(camera, rotation, image_size).reshape(-1, 3)
    w = LAB_ROOM_HALF_WIDTH
    with np.errstate(divide="ignore", invalid="ignore"):
        t_floor = np.where(d[:, 1] < 0, -centre[1] / d[:, 1], np.inf)
        t_ceil = np.where(d[:, 1] > 0, (_LAB_CEILING - centre[1]) / d[:, 1], np.inf)
        t_wx = (np.copysign(w, d[:, 0]) - centre[0]) / d[:, 0]
        t_wz = (np.copysign(w, d[:, 2]) - centre[2]) / d[:, 2]
    t_wall = np.minimum(t_wx, t_wz)
    t = np.minimum(np.minimum(t_floor, t_ceil), t_wall)
    image = np.empty((len(d), 3))

    # Walls: light warm grey panels 1.2 m wide with thin dark seams, a dark skirting board.
    wall = t == t_wall
    p = centre + d[wall] * t[wall, None]
    along = np.where(t_wx[wall] <= t_wz[wall], p[:, 2], p[:, 0])
    shade = 0.9 + 0.1 * np.clip(p[:, 1] / 3000.0, 0, 1)
    seam = np.abs(((along + 600.0) % 1200.0) - 600.0) < 15.0
    color = np.array([0.62, 0.62, 0.60]) * (shade * np.where(seam, 0.8, 1.0))[:, None]
    color[p[:, 1] < 100.0] *= 0.7  # skirting board
    image[wall] = color

    # Floor: grey, with a darker square capture mat of 3 m; contact shadow under the person.
    floor = t == t_floor
    p = centre + d[floor] * t[floor, None]
    fx, fz = p[:, 0], p[:, 2]
    mat = (np.abs(fx) < 1500.0) & (np.abs(fz) < 1500.0)
    color = np.where(mat[:, None], np.array([0.33, 0.33, 0.35]), np.array([0.47, 0.46, 0.44]))
    edge = mat & ((np.abs(np.abs(fx) - 1500.0) < 25.0) | (np.abs(np.abs(fz) - 1500.0) < 25.0))
    color[edge] = 0.6
    if joints_world is not None:
        color = color * shadow_factor(fx, fz, joints_world, stature)[:, None]
    image[floor] = color
    image[t == t_ceil] = (0.75, 0.75, 0.74)
    return image.reshape(image_size, image_size, 3)


def chair_primitives(pelvis_world, forward_world, stature: float, rotation, centre, color) -> list:
    """A stool with a backrest under a seated person (boxes in camera coordinates)."""
    fwd = np.array([forward_world[0], 0.0, forward_world[2]])
    fwd /= max(np.linalg.norm(fwd), 1e-9)
    left = np.cross(UP, fwd)
    seat_top = pelvis_world[1] - 0.055 * stature
    if seat_top < 150.0:
        return []
    axes_world = np.stack([left, UP, fwd], axis=1)
    seat_centre = np.array([pelvis_world[0], seat_top / 2.0, pelvis_world[2]]) + 0.04 * stature * fwd
    back_centre = np.array([pelvis_world[0], seat_top + 250.0, pelvis_world[2]]) - (0.1 * stature + 40.0) * fwd
    axes_cam = rotation @ axes_world
    return [
        Box(world_to_camera(seat_centre, rotation, centre), axes_cam, np.array([240.0, seat_top / 2.0, 230.0]), color),
        Box(world_to_camera(back_centre, rotation, centre), axes_cam, np.array([240.0, 230.0, 20.0]), color * 0.85),
    ]


# ----------------------------------------------------------------------------- wild scenes

def _random_color(rng, low=0.05, high=0.95) -> np.ndarray:
    """A random colour, mostly muted (blended towards its grey), sometimes vivid."""
    color = rng.uniform(low, high, 3)
    grey = color.mean()
    return grey + (color - grey) * rng.choice([rng.uniform(0.15, 0.6), rng.uniform(0.6, 1.0)], p=[0.7, 0.3])


def clutter_texture(rng: np.random.Generator, size: int = 96) -> np.ndarray:
    """(size, size, 3) float 0..1: a random cluttered scene (shapes, stripes, blobs, noise)."""
    palette = [_random_color(rng, 0.05, 0.95) for _ in range(6)]
    img = Image.new("RGB", (size, size), tuple(int(255 * c) for c in palette[0]))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(12, 40))):
        color = palette[int(rng.integers(1, 6))] * rng.uniform(0.7, 1.2)
        color = tuple(int(c) for c in np.clip(color * 255, 0, 255))
        x0, y0 = rng.uniform(-0.2, 1.0, 2) * size
        w, h = rng.uniform(0.03, 0.5, 2) * size
        kind = rng.integers(5)
        if kind == 0:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=color)
        elif kind == 1:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=color)
        elif kind == 2:
            draw.line([x0, y0, x0 + rng.uniform(-1, 1) * size, y0 + rng.uniform(-1, 1) * size],
                      fill=color, width=int(rng.integers(1, 5)))
        elif kind == 3:
            pts = [tuple(rng.uniform(-0.1, 1.1, 2) * size) for _ in range(int(rng.integers(3, 6)))]
            draw.polygon(pts, fill=color)
        else:  # a striped panel
            period = int(rng.integers(2, 6))
            for k in range(0, int(w), period * 2):
                draw.rectangle([x0 + k, y0, x0 + k + period, y0 + h], fill=color)
    tex = np.asarray(img, dtype=np.float32) / 255.0
    table = rng.uniform(-1, 1, (8, 8))
    g = np.arange(size) / size * 8
    noise = _value_noise(table, g[None, :], g[:, None]).astype(np.float32)
    return np.clip(tex * (1 + 0.3 * noise[..., None]), 0, 1)


def _bilinear(texture: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Periodic bilinear lookup of texture (n, n, 3) at float texel coordinates u, v (M,)."""
    n = texture.shape[0]
    u0, v0 = np.floor(u), np.floor(v)
    fu, fv = (u - u0)[:, None], (v - v0)[:, None]
    i0, j0 = u0.astype(np.int64) % n, v0.astype(np.int64) % n
    i1, j1 = (i0 + 1) % n, (j0 + 1) % n
    return ((texture[j0, i0] * (1 - fu) + texture[j0, i1] * fu) * (1 - fv)
            + (texture[j1, i0] * (1 - fu) + texture[j1, i1] * fu) * fv)


_GROUNDS = {  # name: (colour a, colour b, lattice cell in mm, kind)
    "grass": ((0.20, 0.38, 0.12), (0.35, 0.50, 0.18), 90.0, "noise"),
    "asphalt": ((0.22, 0.22, 0.23), (0.38, 0.37, 0.36), 40.0, "noise"),
    "sand": ((0.70, 0.60, 0.42), (0.82, 0.72, 0.52), 150.0, "noise"),
    "tiles": ((0.75, 0.74, 0.70), (0.45, 0.42, 0.40), 500.0, "tiles"),
    "wood": ((0.55, 0.36, 0.20), (0.70, 0.50, 0.30), 140.0, "planks"),
    "carpet": ((0.45, 0.25, 0.20), (0.30, 0.22, 0.28), 30.0, "noise"),
    "concrete": ((0.55, 0.55, 0.52), (0.65, 0.64, 0.60), 200.0, "noise"),
}


class WildScene:
    """A random ground + backdrop + sky; render it through any camera with `background`."""

    def __init__(self, rng: np.random.Generator, person_xz: np.ndarray, camera_centre: np.ndarray):
        names = list(_GROUNDS)
        name = names[int(rng.integers(len(names)))]
        a, b, cell, kind = _GROUNDS[name]
        tint = rng.uniform(0.8, 1.2, 3)
        self.ground = (np.clip(np.array(a) * tint, 0, 1), np.clip(np.array(b) * tint, 0, 1), cell, kind)
        self.ground_table = rng.uniform(0, 1, (32, 32))
        self.outdoor = bool(rng.random() < 0.6)
        # Backdrop: a vertical plane behind the person, facing the camera.
        view = np.asarray(person_xz, dtype=np.float64) - camera_centre[[0, 2]]
        view /= max(np.linalg.norm(view), 1e-9)
        self.backdrop_normal = -np.array([view[0], 0.0, view[1]])
        self.backdrop_point = np.array([person_xz[0], 0.0, person_xz[1]]) + rng.uniform(1500, 9000) * np.array(
            [view[0], 0.0, view[1]])
        self.backdrop_height = rng.uniform(2500.0, 9000.0) if self.outdoor else np.inf
        self.texture = clutter_texture(rng)
        self.texture_span = rng.uniform(2500.0, 9000.0)  # mm covered by the texture, tiled
        self.sky_top = (_random_color(rng, 0.35, 0.85) * [0.8, 0.9, 1.1]) if self.outdoor else _random_color(rng)
        self.sky_bottom = np.clip(self.sky_top + 0.2, 0, 1)

    def background(self, camera, rotation, centre, image_size: int, joints_world=None,
                   stature: float = 1750.0) -> np.ndarray:
        """(S, S, 3) float 0..1 seen through a (crop) camera."""
        d = world_rays(camera, rotation, image_size).reshape(-1, 3)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_floor = np.where(d[:, 1] < 0, -centre[1] / d[:, 1], np.inf)
            denom = d @ self.backdrop_normal
            t_back = np.where(denom < 0, ((self.backdrop_point - centre) @ self.backdrop_normal) / denom, np.inf)
        t_back[t_back <= 0] = np.inf
        high = np.isfinite(t_back)
        high[high] = centre[1] + t_back[high] * d[high, 1] > self.backdrop_height
        t_back[high] = np.inf
        on_floor = np.isfinite(t_floor) & (t_floor <= t_back)
        on_back = ~on_floor & np.isfinite(t_back)

        # Sky (or a far wall indoors): vertical gradient by ray elevation.
        elevation = d[:, 1] / np.linalg.norm(d, axis=1)
        k = np.clip(elevation * 2.0, 0, 1)[:, None]
        image = self.sky_bottom * (1 - k) + self.sky_top * k

        # Backdrop texture, tiled along the plane (horizontal coordinate, height).
        p = centre + d[on_back] * t_back[on_back, None]
        side = np.cross(UP, self.backdrop_normal)
        n = self.texture.shape[0]
        top = self.backdrop_height if np.isfinite(self.backdrop_height) else 4000.0
        u = ((p - self.backdrop_point) @ side) / self.texture_span * n
        v = (top - p[:, 1]) / self.texture_span * n
        image[on_back] = _bilinear(self.texture, u, v)

        # Ground texture at the world position of each floor pixel, hazy with distance.
        p = centre + d[on_floor] * t_floor[on_floor, None]
        a, b, cell, kind = self.ground
        gx, gz = p[:, 0] / cell, p[:, 2] / cell
        if kind == "noise":
            m = 0.6 * _value_noise(self.ground_table, gx, gz) + 0.4 * _value_noise(self.ground_table, gx * 4.3, gz * 4.3)
        elif kind == "tiles":
            m = ((np.floor(gx) + np.floor(gz)) % 2) * 0.7 + 0.15 * _value_noise(self.ground_table, gx * 3, gz * 3)
            grout = (np.abs(gx - np.round(gx)) < 0.02) | (np.abs(gz - np.round(gz)) < 0.02)
            m = np.where(grout, 1.0, m)
        else:  # planks along x
            m = 0.5 * (np.floor(gz) % 3) / 2 + 0.5 * _value_noise(self.ground_table, gx * 0.5, gz * 8)
        ground = np.array(a) * (1 - m[:, None]) + np.array(b) * m[:, None]
        fog = np.clip(t_floor[on_floor] / 30000.0, 0, 0.6)[:, None]
        ground = ground * (1 - fog) + self.sky_bottom * fog
        if joints_world is not None:
            ground = ground * shadow_factor(p[:, 0], p[:, 2], joints_world, stature)[:, None]
        image[on_floor] = ground
        return image.reshape(image_size, image_size, 3)


def random_sun(rng: np.random.Generator, rotation: np.ndarray) -> Light:
    """A random directional light (sun or lamp) with random strength and colour, in camera coordinates."""
    elevation = np.deg2rad(rng.uniform(15.0, 85.0))
    azimuth = rng.uniform(0, 2 * np.pi)
    direction_world = np.array([np.cos(elevation) * np.sin(azimuth), np.sin(elevation),
                                np.cos(elevation) * np.cos(azimuth)])
    warm = rng.uniform(-0.12, 0.12)
    return Light(direction=tuple(rotation @ direction_world), ambient=float(rng.uniform(0.25, 0.6)),
                 diffuse=float(rng.uniform(0.4, 0.9)), specular=float(rng.uniform(0.0, 0.25)),
                 color=(1.0 + warm, 1.0, 1.0 - warm))


MAX_OCCLUDED = 6


def random_occluders(rng: np.random.Generator, joints_cam: np.ndarray, stature: float) -> list:
    """1 or 2 objects (box, pole or ball) between the camera and a random body joint, camera mm.

    An object that would hide more than `MAX_OCCLUDED` joints is left out, so that the
    person stays recognisable.
    """
    prims = []
    for _ in range(int(rng.integers(1, 3))):
        target = joints_cam[int(rng.integers(len(joints_cam)))] + rng.normal(0, 0.08 * stature, 3)
        depth = target[2]
        z = rng.uniform(max(0.35 * depth, 300.0), max(depth - 0.15 * stature, 0.36 * depth))
        centre = target * (z / target[2])
        color = _random_color(rng)
        color2 = _random_color(rng)
        pattern = [None, "stripes", "checker"][int(rng.integers(3))]
        scale = stature * z / depth
        kind = rng.integers(3)
        angle = rng.uniform(-0.6, 0.6)
        axes = np.array([[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0], [0.0, 0.0, 1.0]])
        if kind == 0:
            half = np.array([rng.uniform(0.05, 0.25), rng.uniform(0.05, 0.25), rng.uniform(0.05, 0.2)]) * scale
            prims.append(Box(centre, axes, half, color, pattern, color2))
        elif kind == 1:
            direction = axes[:, 1] * rng.uniform(0.3, 1.0) * scale
            prims.append(Capsule(centre - direction, centre + direction, rng.uniform(0.02, 0.07) * scale, color,
                                 "stripes" if pattern else None, color2))
        else:
            prims.append(Ellipsoid(centre, np.eye(3), np.full(3, rng.uniform(0.05, 0.13) * scale), color,
                                   pattern, color2))
    rays = joints_cam / joints_cam[:, 2:3]
    dd = (rays * rays).sum(1)
    return [p for p in prims if (p.intersect(rays, dd) < joints_cam[:, 2]).sum() <= MAX_OCCLUDED]


# ----------------------------------------------------------------------------- post-processing

def finish_image(image: np.ndarray, rng: np.random.Generator, *, blur: float, noise: float = 0.0,
                 gamma: float = 1.0, contrast: float = 1.0, brightness: float = 0.0,
                 color_gain=(1.0, 1.0, 1.0), jpeg_quality: int | None = None,
                 outside: np.ndarray | None = None) -> np.ndarray:
    """Camera effects on a uint8 image: colour cast, contrast, gamma (one lookup table per
    channel), blur, sensor noise, JPEG compression. outside: optional (S, S) bool of pixels
    beyond the original image, set to black (padding). Returns uint8 (S, S, 3)."""
    levels = np.arange(256) / 255.0
    luts = []
    for gain in color_gain:
        v = np.clip((levels * gain - 0.5) * contrast + 0.5 + brightness, 0, 1) ** gamma
        luts.append(np.round(v * 255).astype(np.uint8))
    out = Image.fromarray(image).point(np.concatenate(luts).tolist())
    if blur > 0.05:
        out = out.filter(ImageFilter.GaussianBlur(blur))
    if noise > 0:
        arr = np.asarray(out) + rng.standard_normal((*image.shape[:2], 1), dtype=np.float32) * noise
        out = Image.fromarray((np.clip(arr, 0, 255) + 0.5).astype(np.uint8))
    if jpeg_quality is not None:
        buffer = io.BytesIO()
        out.save(buffer, format="JPEG", quality=int(jpeg_quality))
        out = Image.open(buffer)
    arr = np.array(out)
    if outside is not None:
        arr[outside] = 0
    return arr
