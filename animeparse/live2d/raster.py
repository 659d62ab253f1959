"""Draw posed Live2D meshes into a picture: colors by textured triangles, labels by drawable.

Each drawable's triangles are filled into an index buffer with PIL (fast C polygon fill), then
every covered pixel maps back to the texture through its triangle's affine map and samples it
bilinearly from a texture level near the picture's scale (a small mip chain, so a 2048-px atlas
drawn at 300 px does not alias). Drawables compose back to front with their opacity, clip masks
and blend modes; a pixel's label is the class of the topmost drawable that covers it with at
least half opacity.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw

from animeparse.live2d.rig import Mesh

LABEL_ALPHA = 0.5
"""A drawable labels the pixels it covers with at least this opacity (its soft rim stays below)."""

SCREEN, MULTIPLY = 1, 2
"""Blend modes of a mesh (0 is normal alpha blending)."""


def mip_chain(texture: np.ndarray, levels: int = 4) -> list[np.ndarray]:
    """The texture at full, half, quarter ... size, premultiplied by alpha, float32 in 0..1
    (averaging premultiplied colors keeps transparent texels from darkening edges)."""
    rgba = texture.astype(np.float32) / 255
    rgba[..., :3] *= rgba[..., 3:]
    chain = [rgba]
    for _ in range(levels - 1):
        h, w = chain[-1].shape[:2]
        if min(h, w) < 64:
            break
        a = chain[-1][: h // 2 * 2, : w // 2 * 2]
        chain.append((a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]) / 4)
    return chain


def _sample(tex: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``tex`` (H, W, 4) at texel coordinates (pixel centres at +0.5)."""
    h, w = tex.shape[:2]
    x = np.clip(x - 0.5, 0, w - 1.001)
    y = np.clip(y - 0.5, 0, h - 1.001)
    x0, y0 = x.astype(np.int32), y.astype(np.int32)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = tex[y0, x0] * (1 - fx) + tex[y0, x0 + 1] * fx
    bottom = tex[y0 + 1, x0] * (1 - fx) + tex[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _triangle_maps(pts: np.ndarray, uvs: np.ndarray, tris: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per triangle, the affine map from picture (x, y, 1) to texture (u, v); and which are not degenerate."""
    p = pts[tris]  # (T, 3, 2)
    t = uvs[tris]
    m = np.concatenate([p, np.ones(p.shape[:2] + (1,), np.float32)], axis=2)  # (T, 3, 3)
    det = np.linalg.det(m)
    ok = np.abs(det) > 1e-6
    maps = np.zeros((len(tris), 3, 2), np.float32)
    maps[ok] = np.linalg.solve(m[ok], t[ok])  # rows x, y, 1 -> u, v
    return maps, ok


class Layer:
    """One character drawn alone: premultiplied color, coverage, and the label of each pixel."""

    def __init__(self, height: int, width: int):
        self.color = np.zeros((height, width, 3), np.float32)
        self.alpha = np.zeros((height, width), np.float32)
        self.label = np.full((height, width), -1, np.int16)  # -1: nothing labels this pixel
        self.owner = np.full((height, width), -1, np.int16)  # class of the topmost drawable touching it, any opacity
        self.coverage: dict[str, np.ndarray] = {}  # drawable id -> its alpha, for clip masks


def draw_meshes(
    meshes: Sequence[Mesh],
    textures: Sequence[list[np.ndarray]],
    to_picture: np.ndarray,
    size: tuple[int, int],
    label_of: Callable[[Mesh], int | None],
) -> Layer:
    """Draw ``meshes`` (back to front) into a ``size`` = (width, height) layer.

    ``to_picture`` is the 2x3 affine map from model canvas units to picture pixels;
    ``textures[i]`` is the mip chain of texture i (each mesh samples the level nearest to its
    texels per picture pixel). ``label_of`` gives a mesh's class
    id, 255 for ignore, or None for a drawable that is drawn but labels nothing under it (a
    highlight or shade over other parts).
    """
    width, height = size
    layer = Layer(height, width)
    clip_sources = {c for m in meshes for c in m.clip}
    for mesh in meshes:
        pts = mesh.points @ to_picture[:, :2].T + to_picture[:, 2]
        x0, y0 = np.floor(pts.min(0)).astype(int)
        x1, y1 = np.ceil(pts.max(0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        if x0 >= x1 or y0 >= y1:
            continue
        local = pts - (x0, y0)
        tri_ids = Image.new("I", (x1 - x0, y1 - y0), 0)
        draw = ImageDraw.Draw(tri_ids)
        for k, tri in enumerate(mesh.triangles):
            draw.polygon([tuple(local[j]) for j in tri], fill=k + 1)
        ids = np.asarray(tri_ids)
        ys, xs = np.nonzero(ids)
        if len(xs) == 0:
            continue
        k = ids[ys, xs] - 1
        maps, ok = _triangle_maps(local, mesh.uvs, mesh.triangles)
        keep = ok[k]
        ys, xs, k = ys[keep], xs[keep], k[keep]
        cx, cy = xs + 0.5, ys + 0.5
        mk = maps[k]
        u = cx * mk[:, 0, 0] + cy * mk[:, 1, 0] + mk[:, 2, 0]
        v = cx * mk[:, 0, 1] + cy * mk[:, 1, 1] + mk[:, 2, 1]
        chain = textures[mesh.texture]
        tex = chain[min(_mip_level(local, mesh, chain[0].shape), len(chain) - 1)]
        rgba = _sample(tex, u * tex.shape[1], (1 - v) * tex.shape[0]) * mesh.opacity
        gy, gx = ys + y0, xs + x0
        if mesh.clip:
            # the masks' union, read only where this mesh lands (not over the whole picture)
            mask = sum((layer.coverage[c][gy, gx] for c in mesh.clip if c in layer.coverage), np.zeros(len(gy), np.float32))
            rgba *= np.clip(mask, 0, 1)[:, None]
        a = rgba[:, 3]
        if mesh.id in clip_sources:
            cov = layer.coverage.setdefault(mesh.id, np.zeros((height, width), np.float32))
            cov[gy, gx] = np.maximum(cov[gy, gx], a)
        dst = layer.color[gy, gx]
        if mesh.blend == SCREEN:  # light added on what is below, within this layer
            layer.color[gy, gx] = dst + rgba[:, :3] * (1 - dst)
            continue
        if mesh.blend == MULTIPLY:
            src = np.where(a[:, None] > 0, rgba[:, :3] / np.maximum(a[:, None], 1e-6), 1)
            layer.color[gy, gx] = dst * (1 - a[:, None] + a[:, None] * src)
            continue
        layer.color[gy, gx] = rgba[:, :3] + dst * (1 - a[:, None])
        layer.alpha[gy, gx] = a + layer.alpha[gy, gx] * (1 - a)
        cls = label_of(mesh)
        if cls is not None:
            covers = a >= LABEL_ALPHA
            layer.label[gy[covers], gx[covers]] = cls
            touches = a > 0.02
            layer.owner[gy[touches], gx[touches]] = cls
    return layer


def _mip_level(pts: np.ndarray, mesh: Mesh, tex_shape: tuple[int, ...]) -> int:
    """log2 of texels per picture pixel over the mesh (its texture area over its drawn area)."""
    tri = mesh.triangles

    def area(p: np.ndarray) -> float:
        u, v = p[tri[:, 1]] - p[tri[:, 0]], p[tri[:, 2]] - p[tri[:, 0]]
        return float(np.abs(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]).sum() / 2)

    drawn = area(pts)
    texels = area(mesh.uvs * (tex_shape[1], tex_shape[0]))
    if drawn <= 0:
        return 0
    return max(int(np.floor(0.5 * np.log2(max(texels / drawn, 1.0)))), 0)
